package probeserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// BenchmarkLiveProbe measures one /livez answer against real Redis: the /proc
// walk, the pipelined round trip, the decision and the JSON body.
func BenchmarkLiveProbe(b *testing.B) {
	p := startPod(b, podOptions{})
	pid := standIn(b, p, "sidekiq 7.3.10 app [0 of 5 busy]")
	id := fmt.Sprintf("%s:%d:0123456789ab", p.hostname, pid)
	info := fmt.Sprintf(`{"hostname":"h","started_at":%d,"pid":%d,"concurrency":5,"version":"7.3.10"}`, time.Now().Unix(), pid)
	if err := writeBeat(p.ctx(), p.rdb, "", id, info, nil, "work", 1); err != nil {
		b.Fatal(err)
	}
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
