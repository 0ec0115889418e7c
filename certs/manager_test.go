package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

const (
	testNamespace = "sidekiq-probe"
	testSecret    = "sidekiq-probe-webhook-certs"
	testConfig    = "sidekiq-probe"
	testService   = "sidekiq-probe-webhook"
)

// cluster starts an API server holding what the Helm chart installs: the
// namespace, the empty Secret (unless precreate is false) and a webhook
// configuration with two webhooks and no caBundle.
func cluster(t *testing.T, precreate bool) kubernetes.Interface {
	t.Helper()
	client := testcontrolplane.Start(t).Client
	ctx := t.Context()
	testkit.Must(t, apply(ctx, client, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace}}))
	if precreate {
		testkit.Must(t, apply(ctx, client, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: testSecret, Namespace: testNamespace}}))
	}
	testkit.Must(t, apply(ctx, client, webhookConfig()))
	return client
}

func webhookConfig() *admissionregistrationv1.MutatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	hook := func(name string) admissionregistrationv1.MutatingWebhook {
		url := "https://127.0.0.1:9443/mutate-v1-pod"
		return admissionregistrationv1.MutatingWebhook{
			Name:                    name,
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: testConfig},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{hook("a.sidekiq-probe.io"), hook("b.sidekiq-probe.io")},
	}
}

func apply(ctx context.Context, client kubernetes.Interface, obj any) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = client.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Secret:
		_, err = client.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, o, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("cannot create %T", obj)
	}
	return err
}

func newManager(t *testing.T, client kubernetes.Interface, now func() time.Time) *Manager {
	t.Helper()
	m, err := New(Config{
		Client: client, Namespace: testNamespace, SecretName: testSecret,
		WebhookConfigName: testConfig, ServiceName: testService, CertDir: t.TempDir(),
		Now: now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	testkit.Must(t, err)
	return m
}

// trusted returns the caBundle every webhook of the configuration carries,
// failing when they differ.
func trusted(t *testing.T, client kubernetes.Interface) *x509.CertPool {
	t.Helper()
	config, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(t.Context(), testConfig, metav1.GetOptions{})
	testkit.Must(t, err)
	first := config.Webhooks[0].ClientConfig.CABundle
	for _, w := range config.Webhooks {
		if !bytes.Equal(w.ClientConfig.CABundle, first) {
			t.Fatalf("webhook %s has another caBundle", w.Name)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(first) {
		t.Fatalf("caBundle holds no certificate: %q", first)
	}
	return pool
}

func caCount(t *testing.T, client kubernetes.Interface) int {
	t.Helper()
	config, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(t.Context(), testConfig, metav1.GetOptions{})
	testkit.Must(t, err)
	return bytes.Count(config.Webhooks[0].ClientConfig.CABundle, []byte("BEGIN CERTIFICATE"))
}

// served is the certificate m's directory serves, read the way certwatcher
// reads it: a Run in another goroutine replaces the key before the
// certificate, so a read between the two renames finds a pair that does not
// match, and reads again.
func served(t *testing.T, m *Manager) *x509.Certificate {
	t.Helper()
	var pair tls.Certificate
	testkit.WaitFor(t, time.Minute, "a matching certificate and key in "+m.cfg.CertDir, func() bool {
		var err error
		pair, err = tls.LoadX509KeyPair(filepath.Join(m.cfg.CertDir, CertFile), filepath.Join(m.cfg.CertDir, KeyFile))
		return err == nil
	})
	return pair.Leaf
}

// verify checks that the API server, trusting pool at now, accepts cert for
// the Service's name.
func verify(t *testing.T, cert *x509.Certificate, pool *x509.CertPool, now time.Time) error {
	t.Helper()
	_, err := cert.Verify(x509.VerifyOptions{
		Roots: pool, CurrentTime: now,
		DNSName:   testService + "." + testNamespace + ".svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func TestManager_Bootstrap(t *testing.T) {
	for name, precreate := range map[string]bool{
		"the chart's empty Secret is filled in": true,
		"a missing Secret is created":           false,
	} {
		t.Run(name, func(t *testing.T) {
			client := cluster(t, precreate)
			m := newManager(t, client, nil)
			testkit.Must(t, m.Reconcile(t.Context()))

			secret, err := client.CoreV1().Secrets(testNamespace).Get(t.Context(), testSecret, metav1.GetOptions{})
			testkit.Must(t, err)
			for _, key := range []string{KeyCACert, KeyCAKey, KeyCert, KeyKey} {
				if len(secret.Data[key]) == 0 {
					t.Errorf("Secret has no %s", key)
				}
			}
			if _, ok := secret.Data[KeyPreviousCACert]; ok {
				t.Error("a fresh Secret has a previous CA")
			}
			if err := verify(t, served(t, m), trusted(t, client), time.Now()); err != nil {
				t.Fatalf("the served certificate is not trusted by the caBundle: %v", err)
			}
			if got, _ := os.ReadFile(filepath.Join(m.cfg.CertDir, CertFile)); !bytes.Equal(got, secret.Data[KeyCert]) {
				t.Error("cert dir and Secret disagree")
			}
			select {
			case <-m.Served():
			default:
				t.Error("Served() not closed after a pass")
			}
		})
	}
}

func TestManager_RacingReplicasAgreeOnOneCA(t *testing.T) {
	for name, precreate := range map[string]bool{
		"racing to fill the chart's empty Secret": true,
		"racing to create the Secret":             false,
	} {
		t.Run(name, func(t *testing.T) {
			client := cluster(t, precreate)
			replicas := make([]*Manager, 4)
			for i := range replicas {
				replicas[i] = newManager(t, client, nil)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(replicas))
			start := make(chan struct{})
			for i, m := range replicas {
				wg.Go(func() {
					<-start
					errs[i] = m.Reconcile(t.Context())
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			if n := caCount(t, client); n != 1 {
				t.Fatalf("caBundle holds %d CAs, want 1", n)
			}
			pool := trusted(t, client)
			for i, m := range replicas {
				if err := verify(t, served(t, m), pool, time.Now()); err != nil {
					t.Errorf("replica %d serves a certificate the caBundle does not trust: %v", i, err)
				}
			}
		})
	}
}

// TestManager_CARotation ages the CA to its renewal point and checks, at each
// step and for a replica that runs its own loop, that whatever is served is
// trusted by the caBundle of that moment.
func TestManager_CARotation(t *testing.T) {
	client := cluster(t, true)
	clock := testkit.NewFakeClock(time.Now())
	leader := newManager(t, client, clock.Now)
	testkit.Must(t, leader.Reconcile(t.Context()))

	follower := newManager(t, client, clock.Now)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- follower.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-follower.Served()

	// Age the CA to its renewal point the way a deployment lives through
	// it: a pass every hundred days, which renews the leaf on the way.
	var oldLeaf *x509.Certificate
	var oldPool *x509.CertPool
	for caCount(t, client) == 1 {
		if clock.Now().After(time.Now().Add(10 * year)) {
			t.Fatal("the CA was never rotated")
		}
		oldLeaf, oldPool = served(t, leader), trusted(t, client)
		clock.Add(100 * day)
		testkit.Must(t, leader.Reconcile(t.Context()))
	}
	if n := caCount(t, client); n != 2 {
		t.Fatalf("during the overlap the caBundle holds %d CAs, want old and new", n)
	}
	if !served(t, leader).Equal(oldLeaf) {
		t.Fatal("the leaf changed before the new CA was trusted for a whole overlap")
	}

	clock.Add(leader.cfg.Overlap)
	testkit.Must(t, leader.Reconcile(t.Context()))
	pool := trusted(t, client)
	newLeaf := served(t, leader)
	if err := verify(t, newLeaf, pool, clock.Now()); err != nil {
		t.Fatalf("the new leaf is not trusted: %v", err)
	}
	if err := verify(t, newLeaf, oldPool, clock.Now()); err == nil {
		t.Fatal("the new leaf must come from the new CA")
	}
	// The follower may still serve the old leaf: it must stay trusted until
	// the follower picked up the new one from the Secret's watch.
	if err := verify(t, served(t, follower), pool, clock.Now()); err != nil {
		t.Fatalf("the follower's certificate is not trusted during the overlap: %v", err)
	}
	testkit.WaitFor(t, time.Minute, "the follower serves the new leaf", func() bool { return served(t, follower).Equal(newLeaf) })

	clock.Add(leader.cfg.Overlap)
	testkit.Must(t, leader.Reconcile(t.Context()))
	if n := caCount(t, client); n != 1 {
		t.Fatalf("after the rotation the caBundle holds %d CAs, want 1", n)
	}
	if err := verify(t, oldLeaf, trusted(t, client), clock.Now()); err == nil {
		t.Fatal("the old CA is still trusted after the rotation")
	}
}

// TestManager_RealTLSClient serves the issued certificate over TLS and talks
// to it the way the API server does: trusting only the caBundle.
func TestManager_RealTLSClient(t *testing.T) {
	client := cluster(t, true)
	m := newManager(t, client, nil)
	testkit.Must(t, m.Reconcile(t.Context()))

	pair, err := tls.LoadX509KeyPair(filepath.Join(m.cfg.CertDir, CertFile), filepath.Join(m.cfg.CertDir, KeyFile))
	testkit.Must(t, err)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	testkit.Must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "webhook under test")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	apiServer := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: trusted(t, client), ServerName: testService + "." + testNamespace + ".svc"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
		},
	}}
	resp, err := apiServer.Get("https://" + testService + "." + testNamespace + ".svc/")
	testkit.Must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "webhook under test" {
		t.Fatalf("answered %q, not our server", body)
	}
}
