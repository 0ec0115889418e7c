package server

import (
	"context"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// TestServe_BehindRealAPIServer runs serve with self-managed certificates and
// lets a real kube-apiserver call it: the API server trusts the webhook only
// through the caBundle serve wrote, and reaches it through a Service name
// that matches the certificate (an ExternalName Service pointing at
// localhost, since the API server refuses loopback endpoints).
func TestServe_BehindRealAPIServer(t *testing.T) {
	cp := testcontrolplane.Start(t)
	ctx := t.Context()
	cfg := testConfig(t.TempDir())
	cfg.ManageCerts = true
	cfg.CertSecret, cfg.WebhookConfig, cfg.ServiceName = "sidekiq-probe-webhook-certs", "sidekiq-probe", "sidekiq-probe-webhook"
	cfg.Port = testkit.FreePort(t)
	installLikeTheChart(t, cp.Client, cfg, nil)

	r := launch(t, cfg, Deps{KubeConfig: cp.Config}, nil, "")
	testkit.WaitFor(t, 30*time.Second, "serve is ready", func() bool { return status(t, r.healthURL+"/readyz") == 200 })
	pods := cp.Client.CoreV1().Pods("apps")
	// The API server picks up the new caBundle within a moment.
	var lastErr error
	testkit.WaitFor(t, 30*time.Second, "the API server trusts the webhook", func() bool {
		_, lastErr = pods.Create(ctx, testkit.SidekiqPod(nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return lastErr == nil
	})
	if lastErr != nil {
		t.Fatal(lastErr)
	}

	tests := map[string]struct {
		annotations map[string]string
		dryRun      bool
		injected    bool
		wantErr     string
	}{
		"an annotated pod gets the sidecar": {
			annotations: map[string]string{webhook.AnnotationInject: "true"}, injected: true,
		},
		"a server-side dry run is injected too": {
			annotations: map[string]string{webhook.AnnotationInject: "true"}, dryRun: true, injected: true,
		},
		"an unannotated pod is untouched": {},
		"a bad annotation is denied with the webhook's message": {
			annotations: map[string]string{webhook.AnnotationInject: "true", webhook.AnnotationContainer: "nope"},
			wantErr:     `admission webhook "pods.sidekiq-probe.io" denied the request: ` + webhook.AnnotationContainer,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := metav1.CreateOptions{}
			if tc.dryRun {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			pod, err := pods.Create(ctx, testkit.SidekiqPod(tc.annotations), opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := testkit.HasSidecar(pod); got != tc.injected {
				t.Fatalf("sidecar present: %v, want %v", got, tc.injected)
			}
		})
	}
}

// installLikeTheChart creates what the Helm chart would: the namespaces, the
// empty certificate Secret when the webhook manages its certificates, the
// Service and the webhook configuration with caBundle (nil until serve or
// cert-manager's CA injector fills it).
func installLikeTheChart(t *testing.T, client kubernetes.Interface, cfg Config, caBundle []byte) {
	t.Helper()
	ctx := context.Background()
	for name, labels := range map[string]map[string]string{
		cfg.Namespace: nil,
		"apps":        {webhook.NamespaceLabel: "enabled"},
	} {
		_, err := client.CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		testkit.Must(t, err)
	}
	if cfg.ManageCerts {
		_, err := client.CoreV1().Secrets(cfg.Namespace).Create(ctx,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: cfg.CertSecret}}, metav1.CreateOptions{})
		testkit.Must(t, err)
	}
	_, err := client.CoreV1().Services(cfg.Namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: cfg.ServiceName},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{})
	testkit.Must(t, err)

	path, port := webhook.Path, int32(cfg.Port)
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx,
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: cfg.WebhookConfig},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "pods.sidekiq-probe.io",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
					Namespace: cfg.Namespace, Name: cfg.ServiceName, Path: &path, Port: &port,
				}, CABundle: caBundle},
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}},
				NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{webhook.NamespaceLabel: "enabled"}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
	testkit.Must(t, err)
}
