package testsidekiq

import (
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Probe is a running sidecar binary (see BuildProbe) on a loopback port.
type Probe struct {
	Base   string // http://127.0.0.1:PORT
	PID    int
	Logs   *testkit.SyncBuffer // its standard output and error
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProbe runs bin with env as its whole environment and args plus
// --port, and waits until it answers /metrics (which needs neither Redis nor
// Sidekiq). It is killed at cleanup; its logs are shown when the test failed.
func StartProbe(t testing.TB, bin string, env []string, args ...string) *Probe {
	t.Helper()
	return StartProbeAs(t, nil, bin, env, args...)
}

// StartProbeAs is StartProbe under another user (tests run as root), as
// when Pod Security "restricted" runs the sidecar as 65532: the kernel then
// refuses its signals to a Sidekiq of another UID.
func StartProbeAs(t testing.TB, user *syscall.Credential, bin string, env []string, args ...string) *Probe {
	t.Helper()
	port := testkit.FreePort(t)
	cmd := exec.Command(bin, append([]string{"--port=" + strconv.Itoa(port)}, args...)...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: user}
	p := &Probe{Base: "http://127.0.0.1:" + strconv.Itoa(port), Logs: &testkit.SyncBuffer{}, cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Logs, p.Logs
	testkit.Must(t, cmd.Start())
	p.PID = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("sidecar log:\n%s", p.Logs.String())
		}
	})
	testkit.WaitFor(t, 10*time.Second, "the sidecar to listen", func() bool {
		code, _, err := p.Get("/metrics", nil)
		return err == nil && code == http.StatusOK
	})
	return p
}

// Signal sends sig to the sidecar.
func (p *Probe) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// ExitCode is the sidecar's exit code, once Exited is closed.
func (p *Probe) ExitCode() int { return p.cmd.ProcessState.ExitCode() }

// Exited is closed once the sidecar has exited.
func (p *Probe) Exited() <-chan struct{} { return p.exited }

// Get asks path with the given headers, as the kubelet does: a new
// connection each time, and a 5 s bound (beyond the injected probes'
// timeout) except for /prestop, which the kubelet waits for up to the grace
// period.
func (p *Probe) Get(path string, header http.Header) (code int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, p.Base+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header = header
	timeout := 5 * time.Second
	if path == contract.PathPreStop {
		timeout = 2 * time.Minute
	}
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}
