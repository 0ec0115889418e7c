package webhook

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// TestHandler_BadReview: a body that is not an AdmissionReview gets an
// answer naming what was wrong and what is accepted, in a review, as the
// API server expects, and is counted as an error.
func TestHandler_BadReview(t *testing.T) {
	pod := string(readJSON(t, "testdata/pod-plain.in.yaml"))
	tests := map[string]struct {
		contentType string
		body        string
		wantMessage string
		wantCode    int32 // 400 when 0
	}{
		"a body of another content type is a bad request": {
			contentType: "application/yaml", body: "apiVersion: admission.k8s.io/v1",
			wantMessage: `Content-Type "application/yaml" is not accepted: want application/json`,
		},
		"a body that is not JSON is a bad request": {
			body: "apiVersion: admission.k8s.io/v1", wantMessage: "the request body is not an AdmissionReview in JSON",
		},
		"a pod instead of a review is a bad request": {
			body: pod, wantMessage: `apiVersion "v1", kind "Pod" is not accepted: want kind AdmissionReview, apiVersion admission.k8s.io/v1 or admission.k8s.io/v1beta1`,
		},
		"a review of an unknown version is a bad request": {
			body:        `{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"1"}}`,
			wantMessage: `apiVersion "admission.k8s.io/v2", kind "AdmissionReview" is not accepted`,
		},
		"a review without a request is a bad request": {
			body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantMessage: "request: the AdmissionReview has no request",
		},
		"a body over 7 MiB is refused as too large before it is read": {
			body:        `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + strings.Repeat("x", DefaultMaxReviewBytes) + `"}}`,
			wantMessage: "over the limit of 7340032 bytes (--max-review-size)", wantCode: http.StatusRequestEntityTooLarge,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
			if err != nil {
				t.Fatal(err)
			}
			var decisions []Decision
			h.Observe = func(_ context.Context, d Decision) { decisions = append(decisions, d) }
			contentType := tc.contentType
			if contentType == "" {
				contentType = "application/json"
			}
			review := postRaw(t, h, contentType, tc.body)

			if review.Response == nil {
				t.Fatal("the answer has no response")
			}
			wantCode := cmp.Or(tc.wantCode, http.StatusBadRequest)
			if r := review.Response; r.Allowed || r.Result == nil || r.Result.Code != wantCode {
				t.Fatalf("response %+v, want code %d", r, wantCode)
			}
			if msg := review.Response.Result.Message; !strings.Contains(msg, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", msg, tc.wantMessage)
			}
			if len(decisions) != 1 || decisions[0].Result != Errored {
				t.Errorf("decisions %+v, want one Errored", decisions)
			}
		})
	}
}

// TestHandler_ReviewVersions: the answer is in the request's review version,
// and a v1beta1 review (same shape) is handled like a v1 one.
func TestHandler_ReviewVersions(t *testing.T) {
	for _, version := range []string{"admission.k8s.io/v1", "admission.k8s.io/v1beta1"} {
		t.Run(version, func(t *testing.T) {
			h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
			if err != nil {
				t.Fatal(err)
			}
			body := `{"apiVersion":"` + version + `","kind":"AdmissionReview","request":{"uid":"u-1",` +
				`"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop",` +
				`"object":` + string(readJSON(t, "testdata/pod-plain.in.yaml")) + `}}`
			review := postRaw(t, h, "application/json", body)
			if review.APIVersion != version || review.Kind != "AdmissionReview" {
				t.Errorf("answered as %s %s, want %s AdmissionReview", review.APIVersion, review.Kind, version)
			}
			if r := review.Response; r == nil || !r.Allowed || r.UID != "u-1" || len(r.Patch) == 0 {
				t.Fatalf("response %+v, want allowed with a patch, UID u-1", r)
			}
		})
	}
}

func postRaw(t *testing.T, h http.Handler, contentType, body string) admissionv1.AdmissionReview {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP status %d, want 200 (errors are answered in the review)", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&review); err != nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
	return review
}

// FuzzServeHTTP: whatever the body, the handler answers with a review
// holding a response, and never panics.
func FuzzServeHTTP(f *testing.F) {
	pod := string(readJSON(f, "testdata/pod-plain.in.yaml"))
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop","object":` + pod + `}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":[]}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}`)
	f.Add(`null`)
	h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		review := postRaw(t, h, "application/json", body)
		if review.Response == nil {
			t.Fatalf("no response to %q", body)
		}
	})
}
