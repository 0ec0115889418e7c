package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testserve"
)

// startServe builds and runs `sidekiq-probe-webhook serve` with extra flags
// and waits until it is ready. The process is killed when the test ends.
func startServe(t *testing.T, extra ...string) *testserve.Process {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sidekiq-probe-webhook")
	testkit.Must(t, testkit.GoBuild(bin, "./cmd/sidekiq-probe-webhook"))
	return testserve.Start(t, bin, extra...)
}

// TestServe_SIGTERM runs the real binary: the first SIGTERM waits for a
// request still in flight, a second one exits at once.
func TestServe_SIGTERM(t *testing.T) {
	p := startServe(t, "--shutdown-delay=0s") // the wait below is for the request, not the delay
	port, roots, logs, cmd, exited := p.Port, p.Roots, p.Logs, p.Cmd, p.Exited

	// A request whose body never arrives keeps the webhook server busy. It
	// asks for "100 Continue", which the server sends only once the handler
	// reads the body: then the request is surely in flight, not still waiting
	// to be accepted (a connection never accepted is dropped at shutdown).
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	testkit.Must(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /mutate-v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
		"Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"))
	testkit.Must(t, err)
	testkit.Must(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	status, err := bufio.NewReader(conn).ReadString('\n')
	testkit.Must(t, err)
	if !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("answered %q, want 100 Continue", status)
	}
	_, err = conn.Write([]byte("{"))
	testkit.Must(t, err)

	cmd.Process.Signal(syscall.SIGTERM)
	testkit.WaitFor(t, 30*time.Second, "the first SIGTERM is logged", func() bool { return bytes.Contains(logs.Bytes(), []byte("shutting down gracefully")) })
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("exited (%v) with a request in flight after one SIGTERM\n%s", err, logs.Bytes())
	case <-time.After(time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("second SIGTERM: %v, want exit status 1", err)
		}
		exited <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("still running after a second SIGTERM\n%s", logs.Bytes())
	}
}

// TestServe_ShutdownDelay runs the real binary: after SIGTERM, /readyz fails
// at once while new admission requests are still answered for
// --shutdown-delay; then serve stops by itself and exits 0.
func TestServe_ShutdownDelay(t *testing.T) {
	// Long enough that the request below falls inside it on a loaded
	// machine; the test only orders events, it never times them.
	p := startServe(t, "--shutdown-delay=10s")
	if got := admit(t, p); got != "" {
		t.Fatalf("before SIGTERM: %s", got)
	}

	p.Cmd.Process.Signal(syscall.SIGTERM)
	testkit.WaitFor(t, 30*time.Second, "the shutdown is logged", func() bool {
		return bytes.Contains(p.Logs.Bytes(), []byte("shutting down: unready"))
	})
	if got := p.Readyz(); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz after SIGTERM: %d, want 503", got)
	}
	if got := admit(t, p); got != "" {
		t.Errorf("an admission request during --shutdown-delay: %s\n%s", got, p.Logs.Bytes())
	}

	select {
	case err := <-p.Exited:
		p.Exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("serve exited with %v after the delay, want status 0\n%s", err, p.Logs.Bytes())
		}
	case <-time.After(time.Minute):
		t.Fatalf("serve still runs a minute after SIGTERM with --shutdown-delay=10s\n%s", p.Logs.Bytes())
	}
	logs := string(p.Logs.Bytes())
	last := -1
	for _, msg := range []string{"shutting down: unready", "pod injected", "shutdown delay over", `"msg":"stopped"`} {
		i := strings.Index(logs[last+1:], msg)
		if i < 0 {
			t.Fatalf("the logs lack %q after the previous step; want unready, then the admission, then the end of the delay, then the stop:\n%s", msg, logs)
		}
		last += 1 + i
	}
}

// admit sends an annotated pod's AdmissionReview over a new TLS connection
// and returns "" when serve answered it with a patch, else what went wrong.
func admit(t *testing.T, p *testserve.Process) string {
	t.Helper()
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE",` +
		`"namespace":"apps","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"worker-","annotations":{"sidekiq-probe.io/inject":"true"}},` +
		`"spec":{"containers":[{"name":"worker","image":"app:1","command":["bundle","exec","sidekiq"]}]}}}}`
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: p.Roots, ServerName: "localhost"},
	}}
	resp, err := client.Post("https://127.0.0.1:"+strconv.Itoa(p.Port)+"/mutate-v1-pod", "application/json", strings.NewReader(review))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var out struct {
		Response struct {
			UID     string `json:"uid"`
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "status " + resp.Status + ": " + err.Error()
	}
	if out.Response.UID != "u1" || !out.Response.Allowed || len(out.Response.Patch) == 0 {
		return "status " + resp.Status + ": not an allowed answer with a patch"
	}
	return ""
}
