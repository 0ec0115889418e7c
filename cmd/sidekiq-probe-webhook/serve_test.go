package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
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
	"sidekiq-probe.io/sidekiq-probe/test/testcert"
)

// TestServe_SIGTERM runs the real binary: the first SIGTERM waits for a
// request still in flight, a second one exits at once.
func TestServe_SIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sidekiq-probe-webhook")
	testkit.Must(t, testkit.GoBuild(bin, "./cmd/sidekiq-probe-webhook"))
	certDir := t.TempDir()
	roots := testcert.Write(t, certDir, "localhost")
	port, health := testkit.FreePort(t), "127.0.0.1:"+strconv.Itoa(testkit.FreePort(t))

	var logs testkit.SyncBuffer
	cmd := exec.Command(bin, "serve", "--port", strconv.Itoa(port), "--cert-dir", certDir,
		"--health-addr", health, "--metrics-addr", "127.0.0.1:"+strconv.Itoa(testkit.FreePort(t)),
		"--namespace", "sidekiq-probe", "--sidecar-image", "sidekiq-probe:test")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	testkit.WaitFor(t, 30*time.Second, "serve is ready", func() bool {
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

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
