package probeserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// BenchmarkLiveProbe measures one /livez answer against real Redis: the /proc
// walk, the pipelined round trip, the decision and the JSON body.
func BenchmarkLiveProbe(b *testing.B) {
	p := startPod(b, podOptions{})
	beat := p.fakeSidekiq(testsidekiq.Sidekiq73, "app")
	beat.Jobs = []testsidekiq.Job{{Class: "A", RunAt: time.Now()}}
	p.write(testsidekiq.Sidekiq73, "", beat)
	h := p.srv.Handler()
	req := httptest.NewRequest(http.MethodGet, contract.PathLive, nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("/livez = %d %s", w.Code, w.Body)
		}
	}
}
