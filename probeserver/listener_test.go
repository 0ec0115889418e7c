package probeserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// At the cap, a new connection takes the place of the one idle longest, and
// an oversized request header is refused before any work.
func TestServe_ConnectionBounds(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testkit.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = p.srv.Serve(ctx, ln) }()

	// ask sends one request on c and reads the answer's status.
	ask := func(c net.Conn, extra string) (int, error) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: pod\r\n"+extra+"\r\n"); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	var conns []net.Conn
	for range maxConns {
		c, err := net.Dial("tcp", ln.Addr().String())
		testkit.Must(t, err)
		t.Cleanup(func() { c.Close() })
		if code, err := ask(c, ""); err != nil || code != http.StatusOK {
			t.Fatalf("connection %d: %d %v", len(conns), code, err)
		}
		conns = append(conns, c)
		if len(conns) == 1 {
			// The server marks a connection idle just after answering:
			// give the first a clear lead as the one idle longest.
			time.Sleep(500 * time.Millisecond)
		}
	}
	late, err := net.Dial("tcp", ln.Addr().String())
	testkit.Must(t, err)
	t.Cleanup(func() { late.Close() })
	if code, err := ask(late, ""); err != nil || code != http.StatusOK {
		t.Errorf("a connection past the cap: %d %v, want an answer", code, err)
	}
	// Well before the idle timeout, which would close it too.
	_ = conns[0].SetReadDeadline(time.Now().Add(idleTimeout / 5))
	if _, err := conns[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the connection idle longest: read %v, want it closed (EOF)", err)
	}
	_ = conns[maxConns-1].SetReadDeadline(time.Now().Add(idleTimeout / 5))
	if _, err := conns[maxConns-1].Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the connection idle shortest: read %v, want it still open", err)
	}
	if code, err := ask(late, "X-Padding: "+strings.Repeat("a", 16<<10)+"\r\n"); err != nil || code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 16 KiB header: %d %v, want 431", code, err)
	}
}
