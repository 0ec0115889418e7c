package testsidekiq

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Supervisor is test/sidekiqapp/bin/sidekiq: one process that starts several
// Sidekiq workers and does not trap TSTP.
type Supervisor struct {
	PID     int
	Workers []int // the workers' pids
	cmd     *exec.Cmd
	exited  chan struct{}
}

// StartSupervisor starts the supervisor with n workers and waits until they
// run. o.Concurrency and o.Timeout do not apply: each worker runs one job.
func StartSupervisor(t testing.TB, o Options, n int) *Supervisor {
	t.Helper()
	need(t, "sidekiq")
	cmd := exec.Command("ruby", "bin/sidekiq", strconv.Itoa(n))
	cmd.Dir = filepath.Join(testkit.RepoRoot(t), "test", "sidekiqapp")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/tmp", "REDIS_URL=" + o.RedisURL, "DYNO=" + o.Hostname}
	log := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.Credential}
	testkit.Must(t, cmd.Start())
	s := &Supervisor{PID: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		for _, pid := range append([]int{s.PID}, s.Workers...) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-s.exited
		if t.Failed() {
			t.Logf("supervisor pid %d (workers %v) log:\n%s", s.PID, s.Workers, log.String())
		}
	})
	testkit.WaitFor(t, 20*time.Second, fmt.Sprintf("%d workers of supervisor %d", n, s.PID), func() bool {
		s.Workers = childrenOf(s.PID)
		return len(s.Workers) == n
	})
	return s
}

// Signal sends sig to the supervisor.
func (s *Supervisor) Signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

// Exited is closed when the supervisor has exited.
func (s *Supervisor) Exited() <-chan struct{} { return s.exited }

// childrenOf lists the pids whose parent is ppid.
func childrenOf(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the name in parentheses: state, then ppid.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			kids = append(kids, pid)
		}
	}
	return kids
}
