// Package testserve runs the real `sidekiq-probe-webhook serve` for tests:
// on loopback ports, with a test certificate for "localhost", killed when
// the test ends. The serve tests and the hostile-input suite share it.
package testserve

import (
	"crypto/x509"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testcert"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Process is one serve process, ready when Start returns.
type Process struct {
	Cmd    *exec.Cmd
	Port   int
	Addr   string // 127.0.0.1:Port, the webhook's TLS address
	Health string // the plain-HTTP health address
	Roots  *x509.CertPool
	Logs   *testkit.SyncBuffer // standard error
	Exited chan error          // receives Wait's result; put it back after taking it
}

// Start runs bin serve with extra flags after the defaults and waits until
// /readyz answers 200.
func Start(t *testing.T, bin string, extra ...string) *Process {
	t.Helper()
	certDir := t.TempDir()
	port := testkit.FreePort(t)
	p := &Process{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port),
		Health: "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		Roots:  testcert.Write(t, certDir, "localhost"), Logs: &testkit.SyncBuffer{}, Exited: make(chan error, 1)}
	args := append([]string{"serve", "--port", strconv.Itoa(port), "--cert-dir", certDir,
		"--health-addr", p.Health, "--metrics-addr", "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
		"--namespace", "sidekiq-probe", "--sidecar-image", "sidekiq-probe:test"}, extra...)
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Stderr = p.Logs
	testkit.Must(t, p.Cmd.Start())
	go func() { p.Exited <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		p.Cmd.Process.Kill()
		<-p.Exited
		if t.Failed() {
			t.Logf("serve's logs:\n%s", p.Logs)
		}
	})
	testkit.WaitFor(t, 30*time.Second, "serve is ready", func() bool { return p.Readyz() == http.StatusOK })
	return p
}

// Readyz is the status /readyz answers, or 0 when nothing answers.
func (p *Process) Readyz() int {
	resp, err := http.Get("http://" + p.Health + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
