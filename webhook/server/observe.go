package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// observer turns the handler's decisions into logs and metrics. The handler
// knows neither; it only calls Observe.
type observer struct {
	log        *slog.Logger
	now        func() time.Time
	admissions *prometheus.CounterVec
	denials    *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

func newObserver(reg prometheus.Registerer, log *slog.Logger, now func() time.Time) *observer {
	o := &observer{
		log: log,
		now: now,
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidekiq_probe_webhook_admissions_total",
			Help: "Pod admission requests by result and, for skipped or unchanged pods, why.",
		}, []string{"result", "skip_reason"}),
		denials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidekiq_probe_webhook_denials_total",
			Help: "Denied pods by the annotation or field at fault.",
		}, []string{"field"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sidekiq_probe_webhook_admission_duration_seconds",
			Help:    "Time from reading an admission request to deciding on it, by result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"result"}),
	}
	reg.MustRegister(o.admissions, o.denials, o.latency)
	return o
}

type startKey struct{}

// timed records when a request arrived, for the latency Observe reports.
func (o *observer) timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, o.now())))
	})
}

// Observe is the handler's hook: one call per admission request.
func (o *observer) Observe(ctx context.Context, d webhook.Decision) {
	result := d.Result.String()
	skip := ""
	if d.Result == webhook.Skipped || d.Result == webhook.Unchanged {
		skip = d.SkipReason.String()
	}
	o.admissions.WithLabelValues(result, skip).Inc()
	if d.Result == webhook.Denied {
		o.denials.WithLabelValues(d.DenyField).Inc()
	}
	attrs := []any{"result", result, "namespace", d.Namespace, "name", d.Name, "generateName", d.GenerateName}
	if start, ok := ctx.Value(startKey{}).(time.Time); ok {
		took := o.now().Sub(start)
		o.latency.WithLabelValues(result).Observe(took.Seconds())
		attrs = append(attrs, "took", took)
	}
	if len(d.Warnings) > 0 {
		attrs = append(attrs, "warnings", d.Warnings)
	}
	switch d.Result {
	case webhook.Injected:
		o.log.InfoContext(ctx, "pod injected", attrs...)
	case webhook.Unchanged:
		o.log.InfoContext(ctx, "pod already injected", attrs...)
	case webhook.Skipped:
		// Every pod of a labelled namespace comes here: keep it quiet.
		o.log.DebugContext(ctx, "pod skipped", append(attrs, "skipReason", skip)...)
	case webhook.Denied:
		o.log.InfoContext(ctx, "pod denied", append(attrs, "field", d.DenyField, "reason", d.Message)...)
	default:
		o.log.ErrorContext(ctx, "admission request failed", append(attrs, "err", d.Message)...)
	}
}
