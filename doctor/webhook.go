package doctor

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// checkDeployment: are the webhook's replicas available? With failurePolicy
// Ignore, every pod created while none is available runs uninjected.
func checkDeployment(c *cluster) []Finding {
	obj := object("deployment", c.cfg.WebhookNamespace, c.cfg.Deployment)
	if c.deploymentErr != nil {
		return []Finding{unreadable(CheckDeployment, obj, c.deploymentErr)}
	}
	d := c.deployment
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	f := Finding{Check: CheckDeployment, Status: OK, Object: obj,
		Detail: fmt.Sprintf("%d/%d replicas available", d.Status.AvailableReplicas, want)}
	hint := fmt.Sprintf("kubectl -n %s describe deployment %s; kubectl -n %s logs deployment/%s",
		d.Namespace, d.Name, d.Namespace, d.Name)
	switch {
	case d.Status.AvailableReplicas == 0:
		f.Status, f.Hint = Fail, "no replica answers the API server, so new pods are created without the sidecar (failurePolicy Ignore) or rejected (Fail): "+hint
	case d.Status.AvailableReplicas < want:
		f.Status, f.Hint = Warn, hint
	}
	return []Finding{f}
}

// available returns the Deployment's Available condition, if it has one.
func available(d *appsv1.Deployment) (appsv1.DeploymentCondition, bool) {
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable {
			return cond, true
		}
	}
	return appsv1.DeploymentCondition{}, false
}

// checkWebhookConfig: does the API server call our Service? A configuration
// left over from another release, or pointing elsewhere, injects nothing.
func checkWebhookConfig(c *cluster) []Finding {
	obj := object("mutatingwebhookconfiguration", "", c.cfg.WebhookConfig)
	if c.webhookConfigErr != nil {
		return []Finding{unreadable(CheckWebhookConfig, obj, c.webhookConfigErr)}
	}
	if len(c.webhookConfig.Webhooks) == 0 {
		return []Finding{{Check: CheckWebhookConfig, Status: Fail, Object: obj,
			Detail: "it has no webhooks", Hint: "reinstall the chart (helm upgrade --install)"}}
	}
	var findings []Finding
	for _, wh := range c.webhookConfig.Webhooks {
		policy := "Fail"
		if wh.FailurePolicy != nil {
			policy = string(*wh.FailurePolicy)
		}
		f := Finding{Check: CheckWebhookConfig, Status: OK, Object: obj}
		switch svc := wh.ClientConfig.Service; {
		case svc == nil && wh.ClientConfig.URL != nil:
			f.Status = Warn
			f.Detail = fmt.Sprintf("webhook %s calls the URL %s, not the Service %s/%s", wh.Name, *wh.ClientConfig.URL, c.cfg.WebhookNamespace, c.cfg.Service)
			f.Hint = "fine for a webhook run outside the cluster; otherwise unset webhook.clientConfig.url in the chart's values"
		case svc == nil:
			f.Status, f.Detail = Fail, fmt.Sprintf("webhook %s has neither a Service nor a URL", wh.Name)
			f.Hint = "reinstall the chart (helm upgrade --install)"
		case svc.Namespace != c.cfg.WebhookNamespace || svc.Name != c.cfg.Service || path(svc) != webhook.Path:
			f.Status = Fail
			f.Detail = fmt.Sprintf("webhook %s calls Service %s/%s at %s, not %s/%s at %s", wh.Name,
				svc.Namespace, svc.Name, path(svc), c.cfg.WebhookNamespace, c.cfg.Service, webhook.Path)
			f.Hint = "another release's configuration? Pass --webhook-namespace/--service, or reinstall the chart"
		default:
			f.Detail = fmt.Sprintf("webhook %s calls Service %s/%s at %s; failurePolicy %s", wh.Name, svc.Namespace, svc.Name, path(svc), policy)
		}
		findings = append(findings, f)
	}
	return findings
}

// path is where the API server sends reviews; no path means "/".
func path(svc *admissionregistrationv1.ServiceReference) string {
	if svc.Path == nil {
		return "/"
	}
	return *svc.Path
}
