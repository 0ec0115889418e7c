package testkit

import (
	"errors"
	"net"
	"testing"
	"time"
)

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FreePort finds a loopback port no one listens on. For servers that take a
// port number rather than a listener; a small race remains, so callers check
// who answered.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond until it holds and fails the test once within has
// passed. The deadline is the caller's: a generous bound on a condition, never
// a timing assertion.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	WaitUntil(t, within, what, func() error {
		if !cond() {
			return errNotYet
		}
		return nil
	})
}

var errNotYet = errors.New("still false")

// WaitUntil is WaitFor for a try that says why it has not succeeded yet:
// the failure names try's last error.
func WaitUntil(t testing.TB, within time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: %v", within, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
