package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/certs"
	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// TestChart_RacingReplicasBootstrapOneCA starts three replicas at once on the
// empty Secret of a fresh install, as a Deployment's pods start: they race
// to create the CA, and must end up with one CA, in the Secret and alone in
// the caBundle, and one serving certificate signed by it.
func TestChart_RacingReplicasBootstrapOneCA(t *testing.T) {
	forEachRelease(t, racingReplicasBootstrapOneCA)
}

func racingReplicasBootstrapOneCA(t *testing.T, r testcontrolplane.Release) {
	in := installOn(t, r)
	ctx := t.Context()
	client := in.cp.Client
	secret, err := client.CoreV1().Secrets(namespace).Get(ctx, secretName, metav1.GetOptions{})
	testkit.Must(t, err)
	if len(secret.Data) != 0 {
		t.Fatalf("a fresh install's Secret holds %d keys, want none", len(secret.Data))
	}

	ports := []int{in.port, testkit.FreePort(t), testkit.FreePort(t)}
	var replicas []*replica
	for _, port := range ports {
		replicas = append(replicas, in.launchReplica(t, port))
	}
	for _, r := range replicas {
		r.waitReady(t)
	}

	secret, err = client.CoreV1().Secrets(namespace).Get(ctx, secretName, metav1.GetOptions{})
	testkit.Must(t, err)
	ca := secret.Data[certs.KeyCACert]
	if n := bytes.Count(ca, []byte("BEGIN CERTIFICATE")); n != 1 {
		t.Fatalf("the Secret's %s holds %d certificates, want 1 CA", certs.KeyCACert, n)
	}
	if previous := secret.Data[certs.KeyPreviousCACert]; len(previous) != 0 {
		t.Fatalf("the Secret holds a previous CA after a fresh install:\n%s", previous)
	}
	config, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, configName, metav1.GetOptions{})
	testkit.Must(t, err)
	for _, w := range config.Webhooks {
		if !bytes.Equal(bytes.TrimSpace(w.ClientConfig.CABundle), bytes.TrimSpace(ca)) {
			t.Errorf("webhook %s: the caBundle is not exactly the Secret's CA:\n%s", w.Name, w.ClientConfig.CABundle)
		}
	}

	// Every replica serves, on its own port, a certificate the caBundle
	// trusts for the Service's name: the API server may call any of them.
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatal("the Secret's CA does not parse")
	}
	for i, r := range replicas {
		served, err := os.ReadFile(filepath.Join(r.certDir, certs.CertFile))
		testkit.Must(t, err)
		if !bytes.Equal(served, secret.Data[certs.KeyCert]) {
			t.Errorf("replica %d serves another certificate than the Secret's", i)
		}
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ports[i]),
			&tls.Config{RootCAs: roots, ServerName: serviceName + "." + namespace + ".svc"})
		if err != nil {
			t.Errorf("replica %d: a TLS handshake trusting only the caBundle: %v", i, err)
			continue
		}
		conn.Close()
	}

	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "apps", Labels: map[string]string{webhook.NamespaceLabel: "enabled"},
	}}, metav1.CreateOptions{})
	testkit.Must(t, err)
	testkit.WaitFor(t, time.Minute, "the API server calls the webhook", func() bool {
		pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && testkit.HasSidecar(pod)
	})
	pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{})
	testkit.Must(t, err)
	if !testkit.HasSidecar(pod) {
		t.Fatal("a pod created through the API server has no sidecar")
	}
}
