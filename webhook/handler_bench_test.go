package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// benchReview is a realistic AdmissionReview of a ~6 KB Rails worker pod, as a
// ReplicaSet creates it and the API server sends it (defaults set, service
// account volume and tolerations added, managedFields present).
const benchReview = "testdata/bench/rails-worker.review.json"

// BenchmarkAdmission measures whole admissions over ServeHTTP, review in,
// review out, as `serve` runs them, against a baseline in the same run: a
// controller-runtime handler that only decodes the pod and answers allowed.
// The target is annotated <= 2x noop, and unannotated close to noop.
func BenchmarkAdmission(b *testing.B) {
	annotated := testkit.CompactBenchReview(b)
	unannotated := withoutInjectAnnotation(b, annotated)

	h, err := NewHandler(Options{SidecarImage: "sidekiq-probe:1", NativeSidecar: true, DefaultMaxJobSeconds: 60}, "sidekiq-probe")
	if err != nil {
		b.Fatal(err)
	}
	noop, err := testkit.NoopPodHandler()
	if err != nil {
		b.Fatal(err)
	}

	cases := []struct {
		name    string
		handler http.Handler
		body    []byte
		patched bool
	}{
		{"noop", &admission.Webhook{Handler: noop}, annotated, false},
		{"unannotated", h, unannotated, false},
		{"annotated", h, annotated, true},
	}
	// Whichever case ran first used to pay for the process warming up
	// (measured: the no-op took 390-540 us of CPU first, 320-350 us last),
	// which flattered the ratios to the no-op. Warm all three up first.
	for _, bc := range cases {
		checkAnswer(b, serve(bc.handler, bc.body), bc.patched)
		for range warmUp {
			serve(bc.handler, bc.body)
		}
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			cpu := cpuTime(b)
			for b.Loop() {
				serve(bc.handler, bc.body)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// warmUp is how many admissions of each case run before any is measured.
const warmUp = 2000

// cpuTime is the CPU time of the whole process (all threads, the garbage
// collector's included). The two cores are shared with other people's
// builds: wall time per op then swings by half, CPU time far less, so the
// ratios are taken on it.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func serve(h http.Handler, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkAnswer(b *testing.B, rec *httptest.ResponseRecorder, patched bool) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
		b.Fatalf("status %d, body %s: %v", rec.Code, rec.Body, err)
	}
	if r := review.Response; !r.Allowed || (len(r.Patch) > 0) != patched {
		b.Fatalf("allowed %v, patch %s, want patched %v", r.Allowed, r.Patch, patched)
	}
}

func withoutInjectAnnotation(b *testing.B, review []byte) []byte {
	var doc map[string]any
	if err := json.Unmarshal(review, &doc); err != nil {
		b.Fatal(err)
	}
	meta := doc["request"].(map[string]any)["object"].(map[string]any)["metadata"].(map[string]any)
	delete(meta["annotations"].(map[string]any), AnnotationInject)
	out, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
