package probeserver

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the sidecar's Prometheus series, on a registry of their own.
// Per-process series are labelled by pid: a pod has few processes and the
// identity is unknown before the first heartbeat.
type metrics struct {
	registry    *prometheus.Registry
	age         *prometheus.GaugeVec
	busy        *prometheus.GaugeVec
	concurrency *prometheus.GaugeVec
	quiet       *prometheus.GaugeVec
	redisUp     prometheus.Gauge
	redisRTT    prometheus.Histogram
	results     *prometheus.CounterVec
}

func newMetrics() *metrics {
	perProcess := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sidekiq_probe", Name: name, Help: help}, []string{"pid"})
	}
	m := &metrics{
		registry:    prometheus.NewRegistry(),
		age:         perProcess("heartbeat_age_seconds", "Age of the newest heartbeat of each Sidekiq process."),
		busy:        perProcess("busy_jobs", "Jobs running in each Sidekiq process at its last heartbeat."),
		concurrency: perProcess("concurrency", "Threads of each Sidekiq process."),
		quiet:       perProcess("quiet", "1 when the Sidekiq process reported itself quiet."),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sidekiq_probe", Name: "redis_up",
			Help: "1 when Redis answered the last look in time."}),
		redisRTT: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "sidekiq_probe", Name: "redis_round_trip_seconds",
			Help: "Time of the pipelined Redis read behind each probe.", Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5}}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sidekiq_probe", Name: "probe_results_total",
			Help: "Probe answers by probe and result."}, []string{"probe", "result"}),
	}
	m.registry.MustRegister(m.age, m.busy, m.concurrency, m.quiet, m.redisUp, m.redisRTT, m.results,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(s Snapshot, h History) {
	m.redisUp.Set(0)
	if s.RedisErr != nil {
		return // keep the last per-process values: they are what we last knew
	}
	m.redisUp.Set(1)
	m.redisRTT.Observe(s.RTT.Seconds())
	for _, v := range []*prometheus.GaugeVec{m.age, m.busy, m.concurrency, m.quiet} {
		v.Reset() // drop processes that are gone
	}
	for _, p := range s.Processes {
		pid := strconv.Itoa(p.PID)
		if beat, ok := h.LastBeat[p.Identity]; ok {
			m.age.WithLabelValues(pid).Set(s.At.Sub(beat).Seconds())
		}
		if p.Heartbeat == nil {
			continue
		}
		m.busy.WithLabelValues(pid).Set(float64(p.Jobs))
		m.concurrency.WithLabelValues(pid).Set(float64(p.Heartbeat.Concurrency))
		q := 0.0
		if p.Heartbeat.Quiet {
			q = 1
		}
		m.quiet.WithLabelValues(pid).Set(q)
	}
}

func (m *metrics) result(probe string, v Verdict) {
	m.results.WithLabelValues(probe, v.Status).Inc()
}
