package probeserver

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// What one connection may hold and for how long. Every connection costs the
// sidecar a goroutine and its buffers (1,500 idle keep-alives took it to
// 45-59 MB against its 32Mi limit), and anyone on the pod network can open
// them.
const (
	// maxConns is the cap on open connections. The kubelet needs four at
	// most at once (startup, liveness and readiness probes, the preStop
	// call), a Prometheus scrape one more; 64 leaves room for several
	// scrapers and a port-forward while 64 connections at their worst
	// (8 KiB of headers read, buffers, a goroutine's stack) stay near
	// 2 MiB, well inside the 32Mi limit.
	maxConns = 64
	// idleTimeout closes a keep-alive connection that sends nothing more:
	// the kubelet opens a new connection per probe, so only scrapers reuse
	// one, and they reconnect cheaply.
	idleTimeout = 5 * time.Second
	// readHeaderTimeout: the kubelet sends its request at once.
	readHeaderTimeout = 2 * time.Second
	// maxHeaderBytes fits the kubelet's headers and a 512-character token.
	maxHeaderBytes = 8 << 10
)

// newHTTPServer serves h with the bounds above. It has no WriteTimeout and no
// ReadTimeout: /prestop answers after the drain, up to max-job-seconds, and
// requests carry no body, so the header timeout bounds the reading.
func newHTTPServer(h http.Handler, limit *connLimit) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         limit.track,
	}
}

// connLimit keeps at most max connections open. A connection past the cap
// closes the one idle longest (a keep-alive nobody uses) or, when none is
// idle, is closed at once. Unlike a listener that stops accepting at the cap
// (netutil.LimitListener), it never leaves a kubelet probe queued in the
// kernel behind connections someone else opened first: each is answered or
// refused at once, and any idle one yields its place.
type connLimit struct {
	net.Listener
	max int

	mu   sync.Mutex
	seq  uint64              // counts idle transitions, to find the oldest
	open map[net.Conn]uint64 // open connections: idle since seq, 0 when busy
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, open: map[net.Conn]uint64{}}
}

// Accept returns the next connection that fits under the cap.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit(c) {
			return c, nil
		}
		_ = c.Close()
	}
}

// admit makes room for c, closing the connection idle longest if needed.
func (l *connLimit) admit(c net.Conn) bool {
	l.mu.Lock()
	var victim net.Conn
	if len(l.open) >= l.max {
		oldest := uint64(0)
		for o, since := range l.open {
			if since != 0 && (oldest == 0 || since < oldest) {
				victim, oldest = o, since
			}
		}
		if victim == nil {
			l.mu.Unlock()
			return false
		}
		delete(l.open, victim)
	}
	l.open[c] = 0
	l.mu.Unlock()
	if victim != nil {
		_ = victim.Close() // its server goroutine sees the error and ends
	}
	return true
}

// track follows http.Server's view of each connection.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.open[c]; !ok {
		return // closed to make room: already forgotten
	}
	switch state {
	case http.StateIdle:
		l.seq++
		l.open[c] = l.seq
	case http.StateActive:
		l.open[c] = 0
	case http.StateClosed, http.StateHijacked:
		delete(l.open, c)
	}
}
