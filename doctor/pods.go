package doctor

import (
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// checkPodsInjected: every pod that asked for injection must have it, and
// when one does not, the finding says what probably happened.
func checkPodsInjected(c *cluster) []Finding {
	if c.podsErr != nil {
		return []Finding{unreadable(CheckPodInjected, "pods "+c.scope(), c.podsErr)}
	}
	var findings []Finding
	for i := range c.pods {
		pod := &c.pods[i]
		if injected(pod) {
			continue
		}
		why, hint := c.whyNotInjected(pod)
		findings = append(findings, Finding{Check: CheckPodInjected, Status: Fail,
			Object: object("pod", pod.Namespace, pod.Name),
			Detail: fmt.Sprintf("annotated %s: \"true\" but not injected: %s", webhook.AnnotationInject, why),
			Hint:   hint})
	}
	if len(findings) == 0 {
		findings = append(findings, Finding{Check: CheckPodInjected, Status: OK, Object: "pods " + c.scope(),
			Detail: fmt.Sprintf("%d annotated pods, all injected", len(c.pods))})
	}
	return findings
}

// recreate is the cure once the cause is gone: injection happens only when a
// pod is created.
const recreate = "then delete the pod so its controller recreates it through the webhook"

// whyNotInjected guesses, most likely cause first, why the webhook left an
// annotated pod alone.
func (c *cluster) whyNotInjected(pod *corev1.Pod) (why, hint string) {
	if pod.Namespace == c.cfg.WebhookNamespace || pod.Namespace == metav1.NamespaceSystem {
		return fmt.Sprintf("pods of namespace %s are never injected (the webhook must never wait for itself)", pod.Namespace),
			"run Sidekiq in another namespace"
	}
	if ns, err := c.namespace(pod.Namespace); err == nil && !c.selects(ns) {
		return fmt.Sprintf("namespace %s is not labelled %s=%s", pod.Namespace, webhook.NamespaceLabel, webhook.NamespaceLabelEnabled),
			labelCommand(pod.Namespace) + ", " + recreate
	}
	if c.policies != nil {
		return c.whyNotInjectedByPolicy(pod)
	}
	created := pod.CreationTimestamp.Time
	if c.webhookConfigErr != nil {
		return "the MutatingWebhookConfiguration is missing", "reinstall the chart, " + recreate
	}
	if created.Before(c.webhookConfig.CreationTimestamp.Time) {
		return fmt.Sprintf("created %s, before the webhook was installed (%s)", stamp(created), stamp(c.webhookConfig.CreationTimestamp.Time)),
			recreate
	}
	ignore := c.failurePolicyIgnore()
	if c.deploymentErr == nil {
		if cond, ok := available(c.deployment); ok {
			since := cond.LastTransitionTime.Time
			switch {
			case cond.Status != corev1.ConditionTrue && !created.Before(since):
				return fmt.Sprintf("created %s while the webhook was unavailable (since %s)%s", stamp(created), stamp(since), ignore),
					"bring the webhook back (see " + CheckDeployment + "), " + recreate
			case cond.Status == corev1.ConditionTrue && created.Before(since):
				return fmt.Sprintf("created %s, before the webhook became available (%s)%s", stamp(created), stamp(since), ignore),
					recreate
			}
		}
	}
	return fmt.Sprintf("created %s while the webhook looked available: its call probably failed or timed out%s", stamp(created), ignore),
		"look for errors at that time in the webhook's logs and in sidekiq_probe_webhook_admissions_total{result=\"errored\"}, " + recreate
}

// selects reports whether the webhook configuration's namespaceSelector
// (else the chart's label) selects ns.
func (c *cluster) selects(ns *corev1.Namespace) bool {
	if p := c.policies; p != nil && p.mutatingErr == nil && p.mutating.Spec.MatchConstraints != nil {
		if sel, err := metav1.LabelSelectorAsSelector(p.mutating.Spec.MatchConstraints.NamespaceSelector); err == nil {
			return sel.Matches(labels.Set(ns.Labels))
		}
	}
	if c.webhookConfigErr == nil && len(c.webhookConfig.Webhooks) > 0 && c.webhookConfig.Webhooks[0].NamespaceSelector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(c.webhookConfig.Webhooks[0].NamespaceSelector); err == nil {
			return sel.Matches(labels.Set(ns.Labels))
		}
	}
	return ns.Labels[webhook.NamespaceLabel] == webhook.NamespaceLabelEnabled
}

// failurePolicyIgnore explains how the pod got through, when it did.
func (c *cluster) failurePolicyIgnore() string {
	if c.webhookConfig == nil {
		return ""
	}
	for _, wh := range c.webhookConfig.Webhooks {
		if wh.FailurePolicy != nil && *wh.FailurePolicy == admissionregistrationv1.Ignore {
			return "; failurePolicy Ignore admitted it without the sidecar"
		}
	}
	return ""
}

func stamp(t time.Time) string { return t.UTC().Format(time.DateTime) }
