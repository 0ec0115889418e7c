package chart_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The webhook writes its CA into the Secret and the caBundle the chart
// rendered empty; a real `helm upgrade` against a real API server must keep
// both, and `helm uninstall` must keep the Secret (same CA on reinstall).
func TestHelm_UpgradeAndUninstallKeepTheWebhooksCertificates(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := context.Background()

	c.helm(t, "install", release, chartDir, "--create-namespace")
	ca := []byte("-----BEGIN CERTIFICATE-----\nthe webhook's CA\n-----END CERTIFICATE-----\n")
	writeCertificates(ctx, t, c.Client, ca)

	c.helm(t, "upgrade", release, chartDir, "--set", "logLevel=debug")
	secret, err := c.Client.CoreV1().Secrets(namespace).Get(ctx, "sidekiq-probe-webhook-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(secret.Data["ca.crt"], ca) {
		t.Errorf("after helm upgrade the Secret holds ca.crt %q, want the webhook's %q", secret.Data["ca.crt"], ca)
	}
	mwc, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "sidekiq-probe", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := mwc.Webhooks[0].ClientConfig.CABundle; !bytes.Equal(got, ca) {
		t.Errorf("after helm upgrade the caBundle is %q, want the webhook's %q", got, ca)
	}
	dep, err := c.Client.AppsV1().Deployments(namespace).Get(ctx, "sidekiq-probe-webhook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--log-level=debug") {
		t.Errorf("helm upgrade did not reach the Deployment: args %q", dep.Spec.Template.Spec.Containers[0].Args)
	}

	c.helm(t, "uninstall", release)
	if _, err := c.Client.CoreV1().Secrets(namespace).Get(ctx, "sidekiq-probe-webhook-certs", metav1.GetOptions{}); err != nil {
		t.Errorf("helm uninstall removed the certificate Secret (want it kept): %v", err)
	}
	if _, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "sidekiq-probe", metav1.GetOptions{}); err == nil {
		t.Error("helm uninstall left the MutatingWebhookConfiguration behind")
	}
}

// writeCertificates does what the running webhook does after its first
// start: fill the Secret and the webhook configuration's caBundle.
func writeCertificates(ctx context.Context, t *testing.T, client kubernetes.Interface, ca []byte) {
	t.Helper()
	secrets := client.CoreV1().Secrets(namespace)
	secret, err := secrets.Get(ctx, "sidekiq-probe-webhook-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"ca.crt": ca, "ca.key": []byte("key"), "tls.crt": []byte("crt"), "tls.key": []byte("key")}
	if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	configs := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	mwc, err := configs.Get(ctx, "sidekiq-probe", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mwc.Webhooks[0].ClientConfig.CABundle = ca
	if _, err := configs.Update(ctx, mwc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
