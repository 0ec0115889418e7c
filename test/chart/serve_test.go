package chart_test

import (
	"io"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
	"sidekiq-probe.io/sidekiq-probe/webhook/server"
)

// The chart's arguments go through the webhook's own flag parser, so a flag
// renamed on either side fails here, not in a cluster.
func TestServe_ParsesTheChartsArguments(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		extra       []string
		manageCerts bool
	}{
		"self-managed certificates": {nil, true},
		"cert-manager":              {certManagerArgs, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.extra...)
			dep := only[*appsv1.Deployment](t, objs)
			args := webhookContainer(t, dep).Args
			// The downward API sets POD_NAMESPACE to the pod's namespace.
			getenv := func(key string) string {
				if key == "POD_NAMESPACE" {
					return dep.Namespace
				}
				return ""
			}
			cfg, err := server.ParseFlags(args[1:], getenv, io.Discard)
			if err != nil {
				t.Fatalf("serve rejects the chart's arguments %q: %v", args, err)
			}

			if cfg.ManageCerts != tc.manageCerts {
				t.Errorf("ManageCerts %v, want %v", cfg.ManageCerts, tc.manageCerts)
			}
			if cfg.Namespace != namespace {
				t.Errorf("Namespace %q, want the release namespace %q", cfg.Namespace, namespace)
			}
			mountedAt(t, dep, cfg.CertDir) // fails the test unless a volume is mounted there
			// The kubelet kills the pod after its grace period: that must
			// leave the shutdown delay and the requests in flight after it.
			if grace := time.Duration(deref(dep.Spec.Template.Spec.TerminationGracePeriodSeconds)) * time.Second; grace <= cfg.ShutdownDelay {
				t.Errorf("terminationGracePeriodSeconds %v does not exceed --shutdown-delay %v", grace, cfg.ShutdownDelay)
			}
			if !servesPort(webhookContainer(t, dep), "webhook", cfg.Port) {
				t.Errorf("--port %d is not the container's webhook port", cfg.Port)
			}
			if tc.manageCerts {
				checks := map[string]struct{ flag, object string }{
					"--cert-secret":    {cfg.CertSecret, only[*corev1.Secret](t, objs).Name},
					"--service-name":   {cfg.ServiceName, only[*corev1.Service](t, objs).Name},
					"--webhook-config": {cfg.WebhookConfig, only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs).Name},
				}
				for flag, c := range checks {
					if c.flag != c.object {
						t.Errorf("%s %q, but the chart renders %q", flag, c.flag, c.object)
					}
				}
			}
			wh := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs).Webhooks[0]
			if path := deref(wh.ClientConfig.Service.Path); path != webhook.Path {
				t.Errorf("the API server calls %s, the webhook serves %s", path, webhook.Path)
			}
			// The webhook works on a review no longer than the API server
			// waits, and its reviews fit the container with the process.
			if want := time.Duration(deref(wh.TimeoutSeconds)) * time.Second; cfg.Limits.MaxTimeout != want {
				t.Errorf("--max-review-timeout %v, but the API server waits %v", cfg.Limits.MaxTimeout, want)
			}
			limits := webhookContainer(t, dep).Resources.Limits
			limit := limits.Memory().Value()
			if need := cfg.Limits.Memory + server.ProcessMemory; need > limit {
				t.Errorf("--review-memory %d plus the process's %d is over the memory limit %d", cfg.Limits.Memory, server.ProcessMemory, limit)
			}
		})
	}
}

func servesPort(c corev1.Container, name string, port int) bool {
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort) == port
		}
	}
	return false
}
