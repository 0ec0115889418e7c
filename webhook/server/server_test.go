package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"sidekiq-probe.io/sidekiq-probe/internal/testcert"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// running is a serve started by a test, with the addresses it bound.
type running struct {
	webhookURL, healthURL, metricsURL string
	client                            *http.Client // trusts only the test's CA
	stop                              func() error // graceful stop; Run's result
}

// start runs serve with cfg on 127.0.0.1 and waits until it is ready.
func start(t testing.TB, cfg Config, deps Deps, roots *x509.CertPool, serverName string) *running {
	t.Helper()
	r := launch(t, cfg, deps, roots, serverName)
	testkit.WaitFor(t, 30*time.Second, "serve is ready", func() bool {
		return status(t, r.healthURL+"/readyz") == http.StatusOK
	})
	return r
}

// launch runs serve with cfg on 127.0.0.1 and returns once it listens.
func launch(t testing.TB, cfg Config, deps Deps, roots *x509.CertPool, serverName string) *running {
	t.Helper()
	if cfg.Port == 0 {
		cfg.Port = testkit.FreePort(t)
	}
	cfg.HealthAddr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0"
	addrs := make(chan [2]net.Addr, 1)
	deps.WebhookHost = "127.0.0.1"
	deps.Ready = func(health, metrics net.Addr) { addrs <- [2]net.Addr{health, metrics} }
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, deps) }()
	stopped := false
	stop := func() error {
		cancel()
		if stopped {
			return nil
		}
		stopped = true
		return <-done
	}
	t.Cleanup(func() { stop() })

	var a [2]net.Addr
	select {
	case a = <-addrs:
	case err := <-done:
		stopped = true
		t.Fatalf("serve stopped before listening: %v", err)
	}
	return &running{
		webhookURL: "https://127.0.0.1:" + strconv.Itoa(cfg.Port) + webhook.Path,
		healthURL:  "http://" + a[0].String(),
		metricsURL: "http://" + a[1].String() + "/metrics",
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName},
		}},
		stop: stop,
	}
}

func TestServe_AdmitsOverTLS(t *testing.T) {
	dir, roots := writeTestCert(t)
	cfg := testConfig(dir)
	r := start(t, cfg, Deps{}, roots, "localhost")

	if got := status(t, r.healthURL+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz: %d", got)
	}

	injected := review(t, r, "apps", testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "true"}))
	if !injected.Allowed || injected.PatchType == nil || !bytes.Contains(injected.Patch, []byte("sidekiq-probe")) {
		t.Errorf("annotated pod: want a patch adding the sidecar, got allowed=%v patch=%s", injected.Allowed, injected.Patch)
	}
	untouched := review(t, r, "apps", testkit.SidekiqPod(nil))
	if !untouched.Allowed || len(untouched.Patch) != 0 {
		t.Errorf("unannotated pod: want allowed without patch, got allowed=%v patch=%s", untouched.Allowed, untouched.Patch)
	}
	denied := review(t, r, "apps", testkit.SidekiqPod(map[string]string{
		webhook.AnnotationInject: "true", webhook.AnnotationContainer: "nope",
	}))
	if denied.Allowed || !strings.Contains(denied.Result.Message, webhook.AnnotationContainer) {
		t.Errorf("bad annotation: want a denial naming %s, got allowed=%v %q", webhook.AnnotationContainer, denied.Allowed, denied.Result.Message)
	}
	own := review(t, r, cfg.Namespace, testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "true"}))
	if !own.Allowed || len(own.Patch) != 0 {
		t.Errorf("pod in the webhook's namespace: want allowed untouched, got patch=%s", own.Patch)
	}

	metrics := body(t, r.metricsURL)
	for _, want := range []string{
		`sidekiq_probe_webhook_admissions_total{result="injected",skip_reason=""} 1`,
		`sidekiq_probe_webhook_admissions_total{result="skipped",skip_reason="not_annotated"} 1`,
		`sidekiq_probe_webhook_admissions_total{result="skipped",skip_reason="own_namespace"} 1`,
		`sidekiq_probe_webhook_denials_total{field="` + webhook.AnnotationContainer + `"} 1`,
		`sidekiq_probe_webhook_admission_duration_seconds_count{result="injected"} 1`,
		`sidekiq_probe_webhook_certificate_expiry_timestamp_seconds `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := r.stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if _, err := http.Get(r.healthURL + "/healthz"); err == nil {
		t.Error("health port still answers after stop")
	}
}

func TestServe_NotReadyWithExpiredCertificate(t *testing.T) {
	dir, roots := writeTestCert(t)
	later := time.Now().Add(testcert.Lifetime + time.Hour)
	r := launch(t, testConfig(dir), Deps{Now: func() time.Time { return later }}, roots, "localhost")

	testkit.WaitFor(t, 30*time.Second, "/healthz answers", func() bool { return status(t, r.healthURL+"/healthz") == http.StatusOK })
	if got := status(t, r.healthURL+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with an expired certificate: %d, want 503", got)
	}
}

func TestParseFlags(t *testing.T) {
	env := func(string) string { return "from-env" }
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"the defaults with a sidecar image are valid":  {args: []string{"--sidecar-image=probe:1"}},
		"a missing sidecar image is named":             {args: nil, wantErr: "--sidecar-image"},
		"an unknown log level lists the accepted ones": {args: []string{"--sidecar-image=p", "--log-level=loud"}, wantErr: `--log-level: "loud" is not one of debug, info, warn, error`},
		"a port out of range is refused":               {args: []string{"--sidecar-image=p", "--port=70000"}, wantErr: "--port: 70000"},
		"managed certificates need a secret name":      {args: []string{"--sidecar-image=p", "--manage-certs", "--cert-secret="}, wantErr: "--cert-secret: must not be empty"},
		"a rotation overlap too long for the CA is refused": {
			args: []string{"--sidecar-image=p", "--manage-certs", "--ca-lifetime=1h", "--ca-rotation-overlap=20m"}, wantErr: "--ca-rotation-overlap: 20m0s must be less than a sixth",
		},
		"stray arguments are refused": {args: []string{"--sidecar-image=p", "extra"}, wantErr: "no arguments"},
		"a shutdown delay over a minute is refused with the accepted range": {
			args: []string{"--sidecar-image=p", "--shutdown-delay=2m"}, wantErr: "--shutdown-delay: 2m0s is not accepted: 0s (stop at once) to 1m0s",
		},
		"a negative shutdown delay is refused": {args: []string{"--sidecar-image=p", "--shutdown-delay=-1s"}, wantErr: "--shutdown-delay: -1s is not accepted"},
		"no shutdown delay is accepted":        {args: []string{"--sidecar-image=p", "--shutdown-delay=0s"}},
		"review limits are quantities":         {args: []string{"--sidecar-image=p", "--max-review-size=8Mi", "--review-memory=64Mi", "--max-review-timeout=20s"}},
		"a review size that is not a quantity is refused": {
			args: []string{"--sidecar-image=p", "--max-review-size=lots"}, wantErr: `invalid value "lots" for flag -max-review-size: "lots" is not a positive quantity of bytes such as 7Mi`,
		},
		"a review memory too small for the largest review is refused with the minimum": {
			args: []string{"--sidecar-image=p", "--review-memory=32Mi"}, wantErr: "--review-memory: 33554432 bytes is not accepted: at least 44072960 (6 times --max-review-size, plus 32768)",
		},
		"a review timeout over a minute is refused": {
			args: []string{"--sidecar-image=p", "--max-review-timeout=2m"}, wantErr: "--max-review-timeout: 2m0s is not accepted: 1s to 1m",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseFlags(tc.args, env, io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Namespace != "from-env" || cfg.Port != 9443 || !cfg.Webhook.NativeSidecar || cfg.Limits.Memory == 0 ||
					(cfg.ShutdownDelay != DefaultShutdownDelay && !slices.Contains(tc.args, "--shutdown-delay=0s")) {
					t.Errorf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := ParseFlags([]string{"--sidecar-image=p"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--namespace: must not be empty (set it or POD_NAMESPACE)") {
		t.Errorf("a missing namespace: %v", err)
	}
}

// TestServe_TLSSuites: TLS 1.2 is served only with ECDHE and AEAD suites;
// a client that offers only CBC-SHA1 suites fails the handshake.
func TestServe_TLSSuites(t *testing.T) {
	dir, roots := writeTestCert(t)
	r := start(t, testConfig(dir), Deps{}, roots, "localhost")
	addr := strings.TrimPrefix(strings.TrimSuffix(r.webhookURL, webhook.Path), "https://")
	tests := map[string]struct {
		version uint16
		suites  []uint16
		wantErr string
	}{
		"TLS 1.2 with ECDHE and AES-GCM is accepted": {
			version: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		},
		"TLS 1.2 with ECDHE and ChaCha20-Poly1305 is accepted": {
			version: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
		},
		"TLS 1.2 offering only CBC-SHA1 suites is refused": {
			version: tls.VersionTLS12, wantErr: "handshake failure",
			suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
				tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		},
		"TLS 1.3 is accepted": {version: tls.VersionTLS13},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost",
				MinVersion: tc.version, MaxVersion: tc.version, CipherSuites: tc.suites})
			if tc.wantErr == "" {
				testkit.Must(t, err)
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatalf("handshake succeeded, want %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func testConfig(certDir string) Config {
	return Config{
		CertDir:   certDir,
		LogLevel:  slog.LevelDebug,
		Namespace: "sidekiq-probe",
		Webhook:   webhook.Options{SidecarImage: "sidekiq-probe:test", NativeSidecar: true, DefaultMaxJobSeconds: 60},
	}
}

// review sends pod to the webhook the way the API server does and checks
// that the answer is for this request.
func review(t testing.TB, r *running, namespace string, pod *corev1.Pod) *admissionv1.AdmissionResponse {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	uid := types.UID("uid-" + strconv.FormatInt(time.Now().UnixNano(), 10))
	in, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: uid, Namespace: namespace, Operation: admissionv1.Create,
			Kind:     metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Object:   runtimeRaw(raw),
		},
	})
	resp, err := r.client.Post(r.webhookURL, "application/json", bytes.NewReader(in))
	if err != nil {
		t.Fatalf("admission review over TLS: %v", err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("not an AdmissionReview (status %d): %v", resp.StatusCode, err)
	}
	if out.Response.UID != uid {
		t.Fatalf("answer for request %q, sent %q", out.Response.UID, uid)
	}
	if out.Response.Result == nil {
		out.Response.Result = &metav1.Status{}
	}
	return out.Response
}

// writeTestCert writes a certificate for localhost into a temp dir and
// returns the dir and a pool trusting only it.
func writeTestCert(t testing.TB) (string, *x509.CertPool) {
	dir := t.TempDir()
	return dir, testcert.Write(t, dir, "localhost")
}

// TestServe_Profiling: /debug/pprof/ is served on the metrics port only with
// --pprof, and /metrics either way.
func TestServe_Profiling(t *testing.T) {
	tests := map[string]struct {
		profiling bool
		want      int
	}{
		"without --pprof the profiles are not served": {profiling: false, want: http.StatusNotFound},
		"with --pprof the profiles are served":        {profiling: true, want: http.StatusOK},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir, roots := writeTestCert(t)
			cfg := testConfig(dir)
			cfg.Profiling = tc.profiling
			r := start(t, cfg, Deps{}, roots, "localhost")
			base := strings.TrimSuffix(r.metricsURL, "/metrics")
			if got := status(t, base+"/debug/pprof/cmdline"); got != tc.want {
				t.Errorf("/debug/pprof/cmdline: %d, want %d", got, tc.want)
			}
			if got := status(t, r.metricsURL); got != http.StatusOK {
				t.Errorf("/metrics: %d, want 200", got)
			}
		})
	}
}
