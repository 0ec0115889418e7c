package probeserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

// The hand-written exposition must parse as Prometheus's own parser reads
// it, with every series the dashboards and alerts use.
func TestMetrics_ExpositionParses(t *testing.T) {
	m := newMetrics(25*time.Second, func(context.Context) map[int]float64 { return map[int]float64{1: 42} })
	now := time.Now()
	capsules := map[string]int{"default": 3, "a \"quoted\"\nname": 2}
	m.observe(Snapshot{At: now, RTT: 3 * time.Millisecond, Processes: []Process{{
		Process:  procfs.Process{PID: 1},
		Identity: "h:1:abc", Heartbeat: &Heartbeat{Beat: now.Add(-2 * time.Second), Concurrency: 5, Quiet: true, Capsules: capsules}, Jobs: 2,
	}}}, History{LastBeat: map[string]time.Time{"h:1:abc": now.Add(-2 * time.Second)}})
	m.result("live", pass("ok"))
	m.result("ready", fail(nil, "quiet"))

	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, w.Body)
	}
	for name, want := range map[string]float64{
		"sidekiq_probe_heartbeat_age_seconds": 2,
		"sidekiq_probe_busy_jobs":             2,
		"sidekiq_probe_concurrency":           5,
		"sidekiq_probe_quiet":                 1,
		"sidekiq_probe_redis_up":              1,
		"sidekiq_probe_max_job_seconds":       25,
		"sidekiq_probe_oldest_job_seconds":    42,
	} {
		ms := families[name].GetMetric()
		if len(ms) != 1 || ms[0].GetGauge().GetValue() != want {
			t.Errorf("%s = %v, want one sample of %v", name, ms, want)
		}
	}
	got := map[string]float64{}
	for _, c := range families["sidekiq_probe_capsule_concurrency"].GetMetric() {
		for _, l := range c.GetLabel() {
			if l.GetName() == "capsule" {
				got[l.GetValue()] = c.GetGauge().GetValue()
			}
		}
	}
	if len(got) != 2 || got["default"] != 3 || got["a \"quoted\"\nname"] != 2 {
		t.Errorf("capsule concurrency = %v, want each capsule as written", got)
	}
	if h := families["sidekiq_probe_redis_round_trip_seconds"].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("round trip histogram = %v", h)
	}
	if n := len(families["sidekiq_probe_probe_results_total"].GetMetric()); n != 2 {
		t.Errorf("%d probe result series, want 2", n)
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"} {
		if _, ok := families[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
}
