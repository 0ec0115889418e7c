package server

import (
	"io"
	"log/slog"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// BenchmarkServe_Admission measures one AdmissionReview of an annotated pod
// over real TLS to a running serve, the path the API server takes.
func BenchmarkServe_Admission(b *testing.B) {
	dir, roots := writeTestCert(b)
	deps := Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := start(b, testConfig(dir), deps, roots, "localhost")
	pod := testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "true"})
	for b.Loop() {
		if resp := review(b, r, "apps", pod); len(resp.Patch) == 0 {
			b.Fatal("no patch")
		}
	}
}
