package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// maxMetricsBytes bounds what the doctor reads of one sidecar's /metrics: a
// pod with a few Sidekiq processes writes a few KiB.
const maxMetricsBytes = 1 << 20

// readSidecar reads a pod's sidecar /metrics through the API server's pod
// proxy (the user needs get on pods/proxy).
func readSidecar(ctx context.Context, c *cluster, pod *corev1.Pod, port int32) ([]byte, error) {
	return c.client.CoreV1().Pods(pod.Namespace).ProxyGet("http", pod.Name, strconv.Itoa(int(port)), "/metrics", nil).DoRaw(ctx)
}

// sidekiqSeries are what the checks read from one sidecar: per Sidekiq
// process (by pid) whether it is embedded and its oldest job's age, and the
// pod's max-job-seconds.
type sidekiqSeries struct {
	embedded   []string // pids
	oldestJob  map[string]float64
	maxJobSecs float64
}

func parseSidecarMetrics(raw []byte) (sidekiqSeries, error) {
	if len(raw) > maxMetricsBytes {
		return sidekiqSeries{}, fmt.Errorf("/metrics is %d bytes, more than a sidecar writes", len(raw))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		return sidekiqSeries{}, fmt.Errorf("/metrics does not parse: %w", err)
	}
	s := sidekiqSeries{oldestJob: map[string]float64{}}
	for _, m := range families["sidekiq_probe_embedded"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			s.embedded = append(s.embedded, labelOf(m.GetLabel(), "pid"))
		}
	}
	for _, m := range families["sidekiq_probe_oldest_job_seconds"].GetMetric() {
		s.oldestJob[labelOf(m.GetLabel(), "pid")] = m.GetGauge().GetValue()
	}
	if ms := families["sidekiq_probe_max_job_seconds"].GetMetric(); len(ms) == 1 {
		s.maxJobSecs = ms[0].GetGauge().GetValue()
	}
	return s, nil
}

// labelOf is the value of a sample's label, or "".
func labelOf[L interface {
	GetName() string
	GetValue() string
}](labels []L, name string) string {
	for _, l := range labels {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// checkSidekiqs reads each running injected pod's sidecar: an embedded
// Sidekiq is not supported (the sidecar cannot quiet or drain it), and a job
// running longer than the pod's max-job-seconds is longer than a rollout or
// eviction waits for: one that comes while such a job runs cuts it off.
func checkSidekiqs(c *cluster) []Finding {
	if c.podsErr != nil {
		return nil
	}
	var findings []Finding
	read := 0
	for i := range c.pods {
		pod := &c.pods[i]
		if !injected(pod) || pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
			continue // nothing to read yet
		}
		series, err := c.sidecarSeries(pod)
		obj := object("pod", pod.Namespace, pod.Name)
		if err != nil {
			findings = append(findings, Finding{Check: CheckSidekiq, Status: Warn, Object: obj,
				Detail: fmt.Sprintf("cannot read the sidecar's /metrics: %v", err),
				Hint:   "the doctor reads it through the API server's pod proxy: it needs get on pods/proxy"})
			continue
		}
		read++
		findings = append(findings, sidekiqFindings(obj, series)...)
	}
	if len(findings) == 0 {
		findings = append(findings, Finding{Check: CheckSidekiq, Status: OK, Object: "pods " + c.scope(),
			Detail: fmt.Sprintf("%d sidecars read: no embedded Sidekiq, no job running longer than max-job-seconds", read)})
	}
	return findings
}

func (c *cluster) sidecarSeries(pod *corev1.Pod) (sidekiqSeries, error) {
	port := int32(0)
	if parsed, err := webhook.ParsePod(pod, webhook.Options{DefaultMaxJobSeconds: c.cfg.DefaultMaxJobSeconds}); err == nil {
		port = parsed.Port
	}
	if port == 0 {
		return sidekiqSeries{}, fmt.Errorf("its annotations do not parse, so its port is unknown")
	}
	read := c.cfg.ReadSidecar
	if read == nil {
		read = func(ctx context.Context, pod *corev1.Pod, port int32) ([]byte, error) {
			return readSidecar(ctx, c, pod, port)
		}
	}
	raw, err := read(c.ctx, pod, port)
	if err != nil {
		return sidekiqSeries{}, err
	}
	return parseSidecarMetrics(raw)
}

func sidekiqFindings(obj string, s sidekiqSeries) []Finding {
	var findings []Finding
	for _, pid := range s.embedded {
		findings = append(findings, Finding{Check: CheckSidekiq, Status: Fail, Object: obj,
			Detail: fmt.Sprintf("Sidekiq runs embedded in another server (pid %s): the sidecar cannot quiet or drain it, so its probes do not judge it and preStop drains nothing", pid),
			Hint:   "run Sidekiq as its own process (bundle exec sidekiq) in its own Deployment annotated for injection, and remove " + webhook.AnnotationInject + " from this pod's template"})
	}
	for _, pid := range slices.Sorted(maps.Keys(s.oldestJob)) {
		if age := s.oldestJob[pid]; s.maxJobSecs > 0 && age > s.maxJobSecs {
			findings = append(findings, Finding{Check: CheckSidekiq, Status: Warn, Object: obj,
				Detail: fmt.Sprintf("a job in pid %s has run %.0f s, longer than max-job-seconds %.0f: a rollout or eviction during such a job cuts it off", pid, age, s.maxJobSecs),
				Hint:   "raise " + webhook.AnnotationMaxJobSeconds + " to the longest job (the grace period follows), or split the job"})
		}
	}
	return findings
}
