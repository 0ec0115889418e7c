package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

// Redis is a redis-server on the node's address, the only host address
// pods can reach. Its append-only file is synced on every write, so a
// SIGKILL (Outage) loses nothing that was acknowledged: like a managed
// Redis failing over, not like one losing its data.
type Redis struct {
	Addr string // host:port on cluster.NodeIP
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts redis-server with its data and PID file in dir.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := cluster.FreePort(cluster.NodeIP)
	if err != nil {
		return nil, err
	}
	r := &Redis{Addr: net.JoinHostPort(cluster.NodeIP, strconv.Itoa(port)), dir: dir}
	return r, r.start(ctx)
}

func (r *Redis) start(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(r.Addr)
	// Protected mode would refuse every client that is not on loopback:
	// the pods, and the test itself, connect to the bridge's address,
	// which exists only on this machine.
	r.cmd = exec.Command("redis-server", "--bind", cluster.NodeIP, "--port", port, "--protected-mode", "no",
		"--dir", r.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--pidfile", redisPIDFile(r.dir), "--loglevel", "warning", "--logfile", filepath.Join(r.dir, "redis.log"))
	// Its own process group: ^C on the test reaches it only through Stop.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server (run `make deps`): %w", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	c := r.Client(0)
	defer c.Close()
	return cluster.Poll(ctx, 30*time.Second, func() error {
		select {
		case <-r.done:
			return errors.New("redis-server exited: see " + filepath.Join(r.dir, "redis.log"))
		default:
		}
		return c.Ping(ctx).Err()
	})
}

// Outage kills the server (SIGKILL), waits for d, and starts it again on
// the same address with its data.
func (r *Redis) Outage(ctx context.Context, d time.Duration) error {
	r.kill()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.start(ctx)
}

// Stop stops the server and removes nothing: dir is the caller's.
func (r *Redis) Stop() { r.kill() }

func (r *Redis) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// URL is what Sidekiq and the sidecar get as REDIS_URL: each scenario uses
// its own database, so their job lists never mix.
func (r *Redis) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr, db) }

// Client is a client for the test's own reads and writes; the caller closes it.
func (r *Redis) Client(db int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr, DB: db, DisableIdentity: true,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1})
}

// redisPIDFile is where the server in dir writes its PID, for a teardown
// from another process (make demo-down).
func redisPIDFile(dir string) string { return filepath.Join(dir, "redis.pid") }

// StopRedisIn kills the redis-server whose PID file is in dir, if any.
func StopRedisIn(dir string) error {
	b, err := os.ReadFile(redisPIDFile(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", redisPIDFile(dir), err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return os.Remove(redisPIDFile(dir))
}
