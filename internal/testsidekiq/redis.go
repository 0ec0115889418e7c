package testsidekiq

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Redis is a redis-server listening only on a unix socket.
type Redis struct {
	Socket string
	URL    string // unix:// URL for Sidekiq and the sidecar
	dir    string
	t      testing.TB
	cmd    *exec.Cmd
}

// StartRedis starts redis-server without persistence. Its directory and
// socket are open to every user, so Sidekiq may run under another UID.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	need(t, "redis-server")
	dir, err := os.MkdirTemp("", "testredis")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Redis{Socket: filepath.Join(dir, "redis.sock"), dir: dir, t: t}
	r.URL = "unix://" + r.Socket
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// Start (re)starts the server on the same socket and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", "0", "--unixsocket", r.Socket, "--unixsocketperm", "777",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--loglevel", "warning")
	// Its output (start banners, warnings about overcommit) would only
	// drown the test output.
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := r.Client()
	defer c.Close()
	testkit.WaitFor(r.t, 10*time.Second, "redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

// Kill stops the server at once (SIGKILL); its data is gone.
func (r *Redis) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a frozen server must run to die
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
	_ = os.Remove(r.Socket)
}

// Freeze stops the server with SIGSTOP: connections stay open, nothing answers.
func (r *Redis) Freeze() { _ = r.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (r *Redis) Thaw() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }

// Client returns a plain client for test assertions; the caller closes it.
func (r *Redis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Network: "unix", Addr: r.Socket, DisableIdentity: true})
}
