package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// maxReviewBytes is controller-runtime's limit on a review's body. The API
// server's own limit on an object is 3 MiB; the review wraps it.
const maxReviewBytes = 7 << 20

// reviewVersions are the AdmissionReview apiVersions the handler answers.
// Both have the same JSON shape; the answer carries the request's version.
var reviewVersions = map[string]bool{"admission.k8s.io/v1": true, "admission.k8s.io/v1beta1": true}

// ServeHTTP answers an AdmissionReview, as controller-runtime's
// admission.Webhook does, but reads the review once. controller-runtime
// first decodes the whole body to learn its apiVersion and kind, then
// decodes it again: on a 6.5 KB pod that first pass was a sixth of an
// admission's CPU time (docs/performance.md). The response is completed as
// admission.Webhook completes it (UID, status, the patch encoded). A panic
// is left to net/http, which resets that one request's stream: the API
// server then applies the webhook's failure policy.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	review, err := readReview(r)
	if err != nil {
		if h.Observe != nil {
			h.Observe(r.Context(), Decision{Result: Errored, Message: err.Error()})
		}
		writeReview(w, review.TypeMeta, admission.Errored(http.StatusBadRequest, err).AdmissionResponse)
		return
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	resp := h.Handle(r.Context(), req)
	if err := resp.Complete(req); err != nil {
		resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encoding the patch: %w", err))
		resp.UID = req.UID
	}
	writeReview(w, review.TypeMeta, resp.AdmissionResponse)
}

// readReview returns the request's review; on an error, the review holds
// what was read of its apiVersion and kind, for the answer.
func readReview(r *http.Request) (admissionv1.AdmissionReview, error) {
	var review admissionv1.AdmissionReview
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return review, fmt.Errorf("Content-Type %q is not accepted: want application/json", ct)
	}
	if r.Body == nil {
		return review, errors.New("the request has no body: want an AdmissionReview")
	}
	body, err := readBody(r)
	if err != nil {
		return review, fmt.Errorf("reading the request body: %w", err)
	}
	if len(body) > maxReviewBytes {
		return review, fmt.Errorf("the request body is over %d bytes", maxReviewBytes)
	}
	if err := decodeJSON(body, &review); err != nil {
		return admissionv1.AdmissionReview{}, fmt.Errorf("the request body is not an AdmissionReview in JSON: %w", err)
	}
	if review.Kind != "AdmissionReview" || !reviewVersions[review.APIVersion] {
		err := fmt.Errorf("apiVersion %q, kind %q is not accepted: want kind AdmissionReview, apiVersion admission.k8s.io/v1 or admission.k8s.io/v1beta1",
			review.APIVersion, review.Kind)
		return admissionv1.AdmissionReview{}, err
	}
	if review.Request == nil {
		return review, errors.New("request: the AdmissionReview has no request")
	}
	return review, nil
}

// readBody reads up to one byte past maxReviewBytes into a buffer sized
// from Content-Length when the client sent one: io.ReadAll would grow its
// buffer five times over for a 6 KB review, and throw four away.
func readBody(r *http.Request) ([]byte, error) {
	body := bytes.NewBuffer(make([]byte, 0, min(max(r.ContentLength, 0), maxReviewBytes)+bytes.MinRead))
	_, err := body.ReadFrom(io.LimitReader(r.Body, maxReviewBytes+1))
	return body.Bytes(), err
}

// writeReview answers with the review's own apiVersion (v1 when unknown).
// Like controller-runtime, errors are answered in the review with HTTP 200:
// the API server reads the status from the response's result.
func writeReview(w http.ResponseWriter, typeMeta metav1.TypeMeta, resp admissionv1.AdmissionResponse) {
	if !reviewVersions[typeMeta.APIVersion] {
		typeMeta = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
	}
	w.Header().Set("Content-Type", "application/json")
	// The API server is gone if this fails; nobody is left to tell.
	_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{TypeMeta: typeMeta, Response: &resp})
}
