package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/test/testcert"
)

// TestServe_SIGTERM runs the real binary: the first SIGTERM waits for a
// request still in flight, a second one exits at once.
func TestServe_SIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sidekiq-probe-webhook")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	certDir := t.TempDir()
	roots := testcert.Write(t, certDir, "localhost")
	port, health := servePort(t), "127.0.0.1:"+strconv.Itoa(servePort(t))

	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "--port", strconv.Itoa(port), "--cert-dir", certDir,
		"--health-addr", health, "--metrics-addr", "127.0.0.1:"+strconv.Itoa(servePort(t)),
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
	waitUntil(t, "serve is ready", func() bool {
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// A request whose body never arrives keeps the webhook server busy.
	conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /mutate-v1-pod HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"))

	cmd.Process.Signal(syscall.SIGTERM)
	waitUntil(t, "the first SIGTERM is logged", func() bool { return bytes.Contains(logs.Bytes(), []byte("shutting down gracefully")) })
	select {
	case err := <-exited:
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

func servePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer collects the child's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
