package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

func limitsTestReview(t *testing.T) string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"shop",` +
		`"object":` + string(readJSON(t, "testdata/pod-plain.in.yaml")) + `}}`
}

// TestHandler_Limits: a review is worked on only while the API server
// waits, and only within the memory budget; what a limit refuses is
// answered at once with a reason naming the limit.
func TestHandler_Limits(t *testing.T) {
	pod := readJSON(t, "testdata/pod-plain.in.yaml")
	bomb := strings.Replace(limitsTestReview(t), `"containers":[`, `"containers":[`+strings.Repeat(`{},`, 20_000), 1)
	tests := map[string]struct {
		query         string
		body          io.Reader
		contentLength int64 // when not 0, sent instead of the body's length
		wantHTTP      int   // an HTTP error instead of an answer in a review
		wantCode      int32
		wantMessage   string
	}{
		"a review whose timeout has passed is not read, and answered with an HTTP error": {
			query: "?timeout=0s", wantHTTP: http.StatusGatewayTimeout,
			wantMessage: "the request's deadline passed before reading the body: the API server has stopped waiting",
		},
		"a malformed timeout is a bad request naming the parameter": {
			query: "?timeout=soon", wantCode: http.StatusBadRequest,
			wantMessage: `the URL's timeout parameter: "soon" is not accepted: a duration such as 10s`,
		},
		"a review charged more than the whole budget is refused before it is decoded": {
			body: strings.NewReader(bomb), wantCode: http.StatusRequestEntityTooLarge,
			wantMessage: "more than all reviews in flight may take together: 48 MiB (--review-memory)",
		},
		"a Content-Length over the limit is refused before the body is read": {
			contentLength: 1 << 40, wantCode: http.StatusRequestEntityTooLarge,
			wantMessage: "the request body is 1099511627776 bytes (its Content-Length), over the limit of 7340032 bytes (--max-review-size)",
		},
		"a Content-Length that promises more than arrives is a bad request": {
			body: strings.NewReader(`{"apiVersion":`), contentLength: 6 << 20, wantCode: http.StatusBadRequest,
			wantMessage: "reading the request body: 14 of its 6291456 bytes (Content-Length) arrived",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
			if err != nil {
				t.Fatal(err)
			}
			body := tc.body
			if body == nil {
				body = strings.NewReader(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":` + string(pod) + `}}`)
			}
			req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod"+tc.query, body)
			req.Header.Set("Content-Type", "application/json")
			if tc.contentLength != 0 {
				req.ContentLength = tc.contentLength
			}
			if tc.wantHTTP != 0 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.wantHTTP || !strings.Contains(rec.Body.String(), tc.wantMessage) {
					t.Fatalf("answered %d %q, want %d and a message containing %q", rec.Code, rec.Body, tc.wantHTTP, tc.wantMessage)
				}
				return
			}
			r := answer(t, h, req)
			if r.Allowed || r.Result == nil || r.Result.Code != tc.wantCode || !strings.Contains(r.Result.Message, tc.wantMessage) {
				t.Fatalf("response %+v\nwant code %d and a message containing %q", r, tc.wantCode, tc.wantMessage)
			}
			if h.budget.tryAcquire(h.limits.Memory) {
				h.budget.release(h.limits.Memory)
			} else {
				t.Error("the review's charge was not released")
			}
		})
	}
}

// TestHandler_Busy: a review waits for its share of the budget until its
// deadline, then gets an HTTP error (a failed call, to which the API server
// applies the failure policy); once the budget is free it is answered.
func TestHandler_Busy(t *testing.T) {
	h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Must(t, h.budget.acquire(context.Background(), h.limits.Memory))
	req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod?timeout=200ms", strings.NewReader(limitsTestReview(t)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "the webhook is busy") ||
		!strings.Contains(rec.Body.String(), "--review-memory") {
		t.Fatalf("answered %d %q, want 503 saying the webhook is busy", rec.Code, rec.Body)
	}

	h.budget.release(h.limits.Memory)
	req = httptest.NewRequest(http.MethodPost, "/mutate-v1-pod?timeout=10s", strings.NewReader(limitsTestReview(t)))
	req.Header.Set("Content-Type", "application/json")
	if r := answer(t, h, req); !r.Allowed || len(r.Patch) == 0 {
		t.Fatalf("response %+v, want allowed with a patch once the budget is free", r)
	}
}

// answer serves req and returns the review's response (HTTP 200 required).
func answer(t *testing.T, h http.Handler, req *http.Request) *admissionv1.AdmissionResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP status %d (%q), want 200", rec.Code, rec.Body)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
		t.Fatalf("answer %q: %v", rec.Body, err)
	}
	return review.Response
}

// TestHandler_DeadlineBetweenSteps: once the request's context has ended,
// the handler stops before the mutation and answers why.
func TestHandler_DeadlineBetweenSteps(t *testing.T) {
	h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
	testkit.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var decisions []Decision
	h.Observe = func(_ context.Context, d Decision) { decisions = append(decisions, d) }
	resp := h.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "u-1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "shop",
		Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: readJSON(t, "testdata/pod-plain.in.yaml")},
	}})
	if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusGatewayTimeout ||
		!strings.Contains(resp.Result.Message, "the request's deadline passed before the mutation") {
		t.Fatalf("response %+v, want 504 naming the mutation", resp.AdmissionResponse)
	}
	if len(decisions) != 1 || decisions[0].Result != Errored {
		t.Errorf("decisions %+v, want one Errored", decisions)
	}
}

// TestBudget_TopUpDoesNotQueue: a review that holds its body's share gets
// the little more its shape needs while another waits for a share only the
// first one's release can free (a FIFO semaphore deadlocked here).
func TestBudget_TopUpDoesNotQueue(t *testing.T) {
	b := newBudget(50)
	testkit.Must(t, b.acquire(context.Background(), 38))
	waiting := make(chan error, 1)
	go func() { waiting <- b.acquire(context.Background(), 38) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	testkit.Must(t, b.acquire(ctx, 1))
	b.release(39)
	testkit.Must(t, <-waiting)
	if b.tryAcquire(13) {
		t.Error("took 13 of the 12 left")
	}
}
