package doctor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// defaultGrace is what the API server gives a pod that sets no grace period.
const defaultGrace = int64(corev1.DefaultTerminationGracePeriodSeconds)

// checkGracePeriods: a grace period shorter than the annotations ask for
// means the kubelet kills Sidekiq while jobs still run. The webhook raises
// it on injection; an uninjected pod, or one whose grace was lowered by a
// later webhook, keeps the short one.
func checkGracePeriods(c *cluster) []Finding {
	if c.podsErr != nil {
		return nil
	}
	opts := webhook.Options{DefaultMaxJobSeconds: c.cfg.DefaultMaxJobSeconds}
	var findings []Finding
	for i := range c.pods {
		pod := &c.pods[i]
		obj := object("pod", pod.Namespace, pod.Name)
		cfg, err := webhook.ParsePod(pod, opts)
		if err != nil {
			findings = append(findings, Finding{Check: CheckGracePeriod, Status: Fail, Object: obj,
				Detail: fmt.Sprintf("annotations the webhook would deny: %v", err),
				Hint:   "fix the annotation in the pod's template"})
			continue
		}
		grace := defaultGrace
		if pod.Spec.TerminationGracePeriodSeconds != nil {
			grace = *pod.Spec.TerminationGracePeriodSeconds
		}
		need := cfg.GracePeriodSeconds()
		if grace >= need {
			continue
		}
		findings = append(findings, Finding{Check: CheckGracePeriod, Status: Fail, Object: obj,
			Detail: fmt.Sprintf("terminationGracePeriodSeconds is %d, its annotations need %d (max job %d + shutdown timeout %d + %d)",
				grace, need, cfg.MaxJobSeconds, cfg.ShutdownTimeoutSeconds, need-int64(cfg.MaxJobSeconds+cfg.ShutdownTimeoutSeconds)),
			Hint: fmt.Sprintf("a rollout or eviction kills running jobs: set terminationGracePeriodSeconds: %d in the pod's template, or recreate it through the webhook", need)})
	}
	if len(findings) == 0 {
		findings = append(findings, Finding{Check: CheckGracePeriod, Status: OK, Object: "pods " + c.scope(),
			Detail: fmt.Sprintf("%d annotated pods, every grace period long enough", len(c.pods))})
	}
	return findings
}
