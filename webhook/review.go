package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

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
//
// The work is bounded (limits.go): the review's deadline is the API
// server's timeout, the body is read no longer than that, and the review
// waits for its share of the memory budget before its body is read.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	limits := h.limits
	if h.budget == nil { // a Handler not made by NewHandler
		limits = DefaultLimits()
	}
	timeout, err := reviewTimeout(r, limits.MaxTimeout)
	if err != nil {
		h.answerError(w, r, metav1.TypeMeta{}, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	charge := &charge{budget: h.budget, limit: limits.Memory, waiting: &h.waiting}
	defer charge.release()
	review, err := readReview(ctx, w, r, limits.MaxReviewBytes, charge)
	if status := failedCall(err); status != 0 {
		h.observe(ctx, Decision{Result: Errored, Message: err.Error()})
		http.Error(w, err.Error(), status)
		return
	}
	if err != nil {
		h.answerError(w, r, review.TypeMeta, errorCode(err), err)
		return
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	resp := h.Handle(ctx, req)
	if r := resp.Result; ctx.Err() != nil && r != nil && r.Code == http.StatusGatewayTimeout {
		http.Error(w, r.Message, http.StatusGatewayTimeout) // Handle has observed it
		return
	}
	if err := resp.Complete(req); err != nil {
		resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encoding the patch: %w", err))
		resp.UID = req.UID
	}
	writeReview(w, review.TypeMeta, resp.AdmissionResponse)
}

// failedCall is the HTTP status of an error that is no answer about the
// pod, or 0. An HTTP error is a failed call, to which the API server applies
// the webhook's failure policy: a review that waited for its share until its
// deadline (503), or whose deadline passed (504; the API server has stopped
// waiting anyway). An answer in a review with allowed: false would deny the
// pod whatever the policy.
func failedCall(err error) int {
	var busy *busyError
	switch {
	case errors.As(err, &busy):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusGatewayTimeout
	}
	return 0
}

func (h *Handler) answerError(w http.ResponseWriter, r *http.Request, typeMeta metav1.TypeMeta, code int32, err error) {
	h.observe(r.Context(), Decision{Result: Errored, Message: err.Error()})
	writeReview(w, typeMeta, admission.Errored(code, err).AdmissionResponse)
}

func (h *Handler) observe(ctx context.Context, d Decision) {
	if h.Observe != nil {
		h.Observe(ctx, d)
	}
}

// readReview returns the request's review; on an error, the review holds
// what was read of its apiVersion and kind, for the answer.
func readReview(ctx context.Context, w http.ResponseWriter, r *http.Request, maxBytes int64, charge *charge) (admissionv1.AdmissionReview, error) {
	var review admissionv1.AdmissionReview
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return review, fmt.Errorf("Content-Type %q is not accepted: want application/json", ct)
	}
	if r.Body == nil || r.ContentLength == 0 {
		return review, errors.New("the request has no body: want an AdmissionReview")
	}
	if r.ContentLength > maxBytes {
		return review, &tooLargeError{fmt.Errorf("the request body is %d bytes (its Content-Length), over the limit of %d bytes (--max-review-size)", r.ContentLength, maxBytes)}
	}
	body, err := readBody(ctx, w, r, maxBytes, charge)
	if err != nil {
		return review, err
	}
	if err := stopped(ctx, "decoding the review"); err != nil {
		return review, err
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

// bodyReadTimeout: the API server sends a review's body at once; a client
// that has not sent it within this (or the review's deadline) is stalling.
const bodyReadTimeout = 10 * time.Second

// readBody charges the body's memory, then reads it into a buffer of its
// checked Content-Length (or of maxBytes without one; the charge is the
// same), then charges what its shape will cost to handle (cost.go).
func readBody(ctx context.Context, w http.ResponseWriter, r *http.Request, maxBytes int64, charge *charge) ([]byte, error) {
	if err := stopped(ctx, "reading the body"); err != nil {
		return nil, err
	}
	size := r.ContentLength
	if size < 0 { // unknown: chunked
		size = maxBytes
	}
	if err := charge.to(ctx, costPerReview+costPerByte*size, "its body"); err != nil {
		return nil, err
	}
	// Errors only on test recorders, which have no connection to bound.
	rc := http.NewResponseController(w)
	deadline, _ := ctx.Deadline()
	readBy := time.Now().Add(bodyReadTimeout)
	if deadline.Before(readBy) {
		readBy = deadline
	}
	_ = rc.SetReadDeadline(readBy)
	buf := make([]byte, size+1)
	n, err := io.ReadFull(io.LimitReader(r.Body, size+1), buf)
	// Past the body, net/http reads only to see the client go away: that
	// may last until the deadline.
	_ = rc.SetReadDeadline(deadline)
	switch {
	case int64(n) > size:
		return nil, &tooLargeError{fmt.Errorf("the request body is over the limit of %d bytes (--max-review-size)", maxBytes)}
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("reading the request body: %w", err)
	case r.ContentLength >= 0 && int64(n) < r.ContentLength:
		return nil, fmt.Errorf("reading the request body: %d of its %d bytes (Content-Length) arrived", n, r.ContentLength)
	}
	body := buf[:n]
	if err := charge.to(ctx, reviewCost(body), "its shape"); err != nil {
		return nil, err
	}
	return body, nil
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

// decodeJSON reads a review or a pod as the API server's own decoder reads
// them: member names matched case by case, unknown members ignored, a
// repeated member's last value kept, invalid UTF-8 taken as U+FFFD.
//
// It is encoding/json/v2 (stable from Go 1.27; this module mirrors it until
// then), which validates while it decodes. encoding/json, and
// sigs.k8s.io/json forked from it, check the whole document first and then
// decode it: on the benchmark pod v2 took half the time and half the
// allocations, and a whole admission took 1.23x the no-op handler's CPU
// with it, 1.67x with sigs.k8s.io/json (docs/performance.md, 6 Dec).
// FuzzDecodeJSON holds it to the API server's decoder.
func decodeJSON(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, decodeOptions)
}

var decodeOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
