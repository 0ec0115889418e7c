package server

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/internal/testcert"
	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// TestServe_BehindRealAPIServerWithCertManagerSecret runs serve as the chart
// does with certManager.enabled=true: without --manage-certs and without any
// API access, reading --cert-dir laid out as the kubelet mounts
// cert-manager's Secret. A real kube-apiserver trusts it through the Secret's
// ca.crt as caBundle (what cert-manager's CA injector writes), before and
// after a renewal swaps the mounted files.
func TestServe_BehindRealAPIServerWithCertManagerSecret(t *testing.T) {
	cp := testcontrolplane.Start(t)
	ctx := t.Context()
	cfg := testConfig(t.TempDir())
	cfg.WebhookConfig, cfg.ServiceName = "sidekiq-probe", "sidekiq-probe-webhook"
	cfg.Port = testkit.FreePort(t)
	dnsNames := []string{
		cfg.ServiceName, cfg.ServiceName + "." + cfg.Namespace, cfg.ServiceName + "." + cfg.Namespace + ".svc",
		cfg.ServiceName + "." + cfg.Namespace + ".svc.cluster.local",
	}
	secret := certManagerSecret(t, dnsNames)
	mountLikeTheKubelet(t, cfg.CertDir, secret)
	installLikeTheChart(t, cp.Client, cfg, secret["ca.crt"])
	start(t, cfg, Deps{}, nil, "")

	pods := cp.Client.CoreV1().Pods("apps")
	injected := func() bool {
		pod, err := pods.Create(ctx, testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "true"}),
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && testkit.HasSidecar(pod)
	}
	testkit.WaitFor(t, 30*time.Second, "the API server to call serve and get the sidecar", injected)

	// A renewal that comes with a new CA, so a new ca.crt too (the harder
	// case; under the chart's long-lived CA only tls.crt and tls.key
	// change): the kubelet swaps the files, the CA injector replaces the
	// caBundle, and serve must reload through the swapped ..data link.
	renewed := certManagerSecret(t, dnsNames)
	mountLikeTheKubelet(t, cfg.CertDir, renewed)
	configs := cp.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	config, err := configs.Get(ctx, cfg.WebhookConfig, metav1.GetOptions{})
	testkit.Must(t, err)
	config.Webhooks[0].ClientConfig.CABundle = renewed["ca.crt"]
	_, err = configs.Update(ctx, config, metav1.UpdateOptions{})
	testkit.Must(t, err)
	// The certificate watcher polls as well as watching files: allow a
	// minute. Once serve presents only the renewed certificate, an injected
	// pod can only come from an API server trusting the new caBundle.
	testkit.WaitFor(t, time.Minute, "serve to present the renewed certificate", func() bool {
		return presents(cfg.Port, dnsNames[2], renewed["ca.crt"])
	})
	testkit.WaitFor(t, 30*time.Second, "the API server to trust serve's renewed certificate", injected)
}

// presents reports whether the server on port completes a TLS handshake
// for serverName trusting only caPEM.
func presents(port int, serverName string, caPEM []byte) bool {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		&tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// certManagerSecret is what cert-manager stores for the chart's serving
// Certificate, issued by a CA Issuer: tls.crt, its ECDSA key as SEC1 "EC
// PRIVATE KEY" (the default PKCS1 encoding), and ca.crt, the CA that signed
// it. Each call makes a new CA.
func certManagerSecret(t *testing.T, dnsNames []string) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	testcert.Write(t, dir, dnsNames...)
	cert, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	testkit.Must(t, err)
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	testkit.Must(t, err)
	pkcs8, err := os.ReadFile(filepath.Join(dir, "tls.key"))
	testkit.Must(t, err)
	block, _ := pem.Decode(pkcs8)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	testkit.Must(t, err)
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("testcert wrote a %T key, want ECDSA like the chart's Certificate", key)
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	testkit.Must(t, err)
	return map[string][]byte{
		"tls.crt": cert,
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}),
		"ca.crt":  ca,
	}
}

// mountLikeTheKubelet lays files out as the kubelet mounts a Secret volume:
// the files in a hidden timestamped folder, a ..data link to it, and one
// link per key through ..data. On an update the kubelet swaps ..data in one
// rename and removes the old folder; so does a second call here.
func mountLikeTheKubelet(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	data := filepath.Join(dir, "..data")
	previous, _ := os.Readlink(data) // empty on the first mount
	folder, err := os.MkdirTemp(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05."))
	testkit.Must(t, err)
	for name, content := range files {
		testkit.Must(t, os.WriteFile(filepath.Join(folder, name), content, 0o644))
	}
	next := filepath.Join(dir, "..data_tmp")
	testkit.Must(t, os.Symlink(filepath.Base(folder), next))
	testkit.Must(t, os.Rename(next, data))
	for name := range files {
		if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
			testkit.Must(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
		}
	}
	if previous != "" {
		testkit.Must(t, os.RemoveAll(filepath.Join(dir, previous)))
	}
}
