package testsidekiq

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Options for one Sidekiq process.
type Options struct {
	RedisURL    string
	Hostname    string // becomes $DYNO, the first part of Sidekiq's identity
	Concurrency int    // default 2
	Timeout     int    // -t, seconds Sidekiq waits for jobs on SIGTERM; default 25
	// Credential runs Sidekiq as another user (tests run as root).
	Credential *syscall.Credential
}

// Sidekiq is one running Sidekiq process.
type Sidekiq struct {
	PID    int
	cmd    *exec.Cmd
	exited chan struct{}
	log    *testkit.SyncBuffer
}

// StartSidekiq starts `sidekiq -r ./app.rb` in test/sidekiqapp. It does not
// wait for the first heartbeat; see WaitHeartbeat.
func StartSidekiq(t testing.TB, o Options) *Sidekiq {
	t.Helper()
	need(t, "sidekiq")
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.Timeout == 0 {
		o.Timeout = 25
	}
	cmd := exec.Command("sidekiq", "-r", "./app.rb", "-c", strconv.Itoa(o.Concurrency), "-t", strconv.Itoa(o.Timeout), "-g", "testapp")
	cmd.Dir = filepath.Join(testkit.RepoRoot(t), "test", "sidekiqapp")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "REDIS_URL=" + o.RedisURL, "DYNO=" + o.Hostname}
	s := &Sidekiq{cmd: cmd, exited: make(chan struct{}), log: &testkit.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	// Its own process group, so ^C on `go test` does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.Credential}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sidekiq: %v", err)
	}
	s.PID = cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("sidekiq pid %d log:\n%s", s.PID, s.log.String())
		}
	})
	return s
}

// Signal sends sig to the process.
func (s *Sidekiq) Signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

// Exited is closed when the process has exited.
func (s *Sidekiq) Exited() <-chan struct{} { return s.exited }

// WaitHeartbeat waits until the process's heartbeat hash exists and returns
// its identity.
func (s *Sidekiq) WaitHeartbeat(t testing.TB, rdb *redis.Client, within time.Duration) string {
	t.Helper()
	return WaitIdentity(t, rdb, s.PID, within)
}

// WaitIdentity waits until Sidekiq pid's heartbeat hash exists and returns
// its identity.
func WaitIdentity(t testing.TB, rdb *redis.Client, pid int, within time.Duration) string {
	t.Helper()
	var id string
	ctx := context.Background()
	testkit.WaitFor(t, within, fmt.Sprintf("a heartbeat from sidekiq pid %d", pid), func() bool {
		members, _ := rdb.SMembers(ctx, "processes").Result()
		for _, m := range members {
			if strings.Contains(m, ":"+strconv.Itoa(pid)+":") && rdb.Exists(ctx, m).Val() == 1 {
				id = m
				return true
			}
		}
		return false
	})
	return id
}

// Enqueue pushes a SleepJob the way Sidekiq's client does.
func Enqueue(ctx context.Context, rdb *redis.Client, seconds float64, id string) error {
	now := float64(time.Now().UnixNano()) / 1e9
	job := fmt.Sprintf(`{"class":"SleepJob","args":[%g,%q],"queue":"default","retry":false,"jid":%q,"created_at":%f,"enqueued_at":%f}`,
		seconds, id, strings.ReplaceAll(id, "-", "")+"jid", now, now)
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, "queues", "default")
		p.LPush(ctx, "queue:default", job)
		return nil
	})
	return err
}

// Started and Done list the ids of SleepJobs that started and finished.
func Started(ctx context.Context, rdb *redis.Client) []string {
	return rdb.LRange(ctx, "sidekiqapp:started", 0, -1).Val()
}

func Done(ctx context.Context, rdb *redis.Client) []string {
	return rdb.LRange(ctx, "sidekiqapp:done", 0, -1).Val()
}
