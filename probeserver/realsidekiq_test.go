package probeserver

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// These tests run real redis-server and real Sidekiq 6.4.1 (`make deps`).
// Each has its own Redis, so the slow ones run side by side.

func TestRealSidekiq_HealthyPassesAllProbes(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	p.sidekiq(testsidekiq.Options{})
	p.waitCode("/startupz", http.StatusOK, 10*time.Second)
	for _, path := range []string{"/livez", "/readyz"} {
		if a := p.get(path); a.code != http.StatusOK {
			t.Errorf("%s = %d %+v, want 200", path, a.code, a.verdict)
		}
	}
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, series := range []string{"sidekiq_probe_heartbeat_age_seconds{pid=", "sidekiq_probe_concurrency{pid=", "sidekiq_probe_redis_up 1", `sidekiq_probe_probe_results_total{probe="startup",result="ok"}`} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

func TestRealSidekiq_StartupFailsBeforeAnySidekiq(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	if a := p.get("/startupz"); a.code != http.StatusServiceUnavailable || !strings.Contains(a.verdict.Reason, "no sidekiq process") {
		t.Errorf("/startupz = %d %+v, want 503 naming no process", a.code, a.verdict)
	}
}

func TestRealSidekiq_BusyWithLongJobsStaysLive(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{heartbeatTimeout: 10 * time.Second})
	p.sidekiq(testsidekiq.Options{Concurrency: 2})
	for i := range 4 { // two run, two wait in the queue
		if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 30, fmt.Sprintf("long-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "two jobs to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 2 })
	// Twice the heartbeat timeout: a health job queued behind these would
	// have failed by now (sidekiq_alive's failure mode).
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if a := p.get("/livez"); a.code != http.StatusOK {
			t.Fatalf("/livez = %d %+v while busy", a.code, a.verdict)
		}
	}
	if a := p.get("/readyz"); a.code != http.StatusOK {
		t.Errorf("/readyz = %d %+v while busy", a.code, a.verdict)
	}
}

func TestRealSidekiq_KilledHeartbeatThreadFailsLiveness(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{heartbeatTimeout: 10 * time.Second})
	sk := p.sidekiq(testsidekiq.Options{})
	p.waitCode("/livez", http.StatusOK, 10*time.Second)
	if err := sk.Signal(syscall.SIGWINCH); err != nil { // test app hook: kill the heartbeat thread
		t.Fatal(err)
	}
	a := p.waitCode("/livez", http.StatusServiceUnavailable, 30*time.Second)
	if !strings.Contains(a.verdict.Reason, "heartbeat") || a.verdict.Process == "" {
		t.Errorf("verdict %+v does not name the heartbeat and the process", a.verdict)
	}
	select {
	case <-sk.Exited():
		t.Error("sidekiq exited; the fault should leave it running")
	default:
	}
}

func TestRealSidekiq_FrozenSidekiqFailsLiveness(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{heartbeatTimeout: 10 * time.Second})
	sk := p.sidekiq(testsidekiq.Options{})
	p.waitCode("/livez", http.StatusOK, 10*time.Second)
	if err := sk.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	p.waitCode("/livez", http.StatusServiceUnavailable, 30*time.Second)
}

// During a Redis outage a restart cannot help, so liveness must hold, and
// every answer must come fast even when Redis hangs without closing
// connections. Once Redis is back, everything passes again.
func TestRealSidekiq_RedisOutagesKeepSidekiqAlive(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{heartbeatTimeout: 10 * time.Second})
	p.sidekiq(testsidekiq.Options{})
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)

	holdLive := func(what string, d time.Duration) {
		t.Helper()
		// Probed as the kubelet does: no answer within the injected
		// probes' timeout is a failure, and would restart Sidekiq.
		kubelet := &http.Client{Timeout: 5 * time.Second}
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			resp, err := kubelet.Get(p.base + "/livez")
			if err != nil {
				t.Fatalf("%s: /livez: %v", what, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: /livez = %d %s", what, resp.StatusCode, body)
			}
		}
		if a := p.get("/readyz"); a.code != http.StatusServiceUnavailable {
			t.Errorf("%s: /readyz = %d, want 503 while Redis is away", what, a.code)
		}
	}

	p.redis.Kill()
	holdLive("redis killed", 20*time.Second)
	p.redis.Start()
	p.waitCode("/readyz", http.StatusOK, 30*time.Second)

	p.redis.Freeze()
	holdLive("redis frozen", 70*time.Second)
	p.redis.Thaw()
	p.waitCode("/readyz", http.StatusOK, 30*time.Second)
	if a := p.get("/livez"); a.code != http.StatusOK {
		t.Errorf("/livez after the outages = %d %+v", a.code, a.verdict)
	}
}

// preStop quiets Sidekiq and returns only once its running jobs finished; no
// job starts after the call and queued ones stay queued. Every caller shares
// the one drain. SIGTERM afterwards stops Sidekiq in seconds.
func TestRealSidekiq_PreStopWaitsForRunningJobs(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{maxJobTime: 60 * time.Second})
	sk := p.sidekiq(testsidekiq.Options{Concurrency: 2, Timeout: 25})
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)
	for _, id := range []string{"before-1", "before-2"} {
		if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 8, id); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WaitFor(t, 10*time.Second, "both jobs to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 2 })

	var wg sync.WaitGroup
	answers := make([]answer, 2)
	doneAtReturn := make([][]string, 2)
	for i := range answers {
		wg.Go(func() {
			answers[i] = p.get("/prestop")
			doneAtReturn[i] = testsidekiq.Done(p.ctx(), p.rdb)
		})
	}
	time.Sleep(time.Second)
	if a := p.get("/readyz"); a.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain = %d %+v, want 503 at once", a.code, a.verdict)
	}
	for _, id := range []string{"after-1", "after-2"} {
		if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 1, id); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, a := range answers {
		if a.code != http.StatusOK || a.verdict.Reason != "drained: no job running" {
			t.Errorf("caller %d: /prestop = %d %+v", i, a.code, a.verdict)
		}
		if !slices.Contains(doneAtReturn[i], "before-1") || !slices.Contains(doneAtReturn[i], "before-2") {
			t.Errorf("caller %d: /prestop returned with only %q finished", i, doneAtReturn[i])
		}
	}
	drainOf := func() *drain { p.srv.mu.Lock(); defer p.srv.mu.Unlock(); return p.srv.drain }
	before := drainOf()
	if a := p.get("/prestop"); a.code != http.StatusOK || a.verdict != answers[0].verdict || drainOf() != before {
		t.Errorf("a later /prestop = %d %+v, want the same drain's answer %+v, and no new drain", a.code, a.verdict, answers[0].verdict)
	}

	if err := sk.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sk.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("sidekiq still running 15 s after SIGTERM on a drained process")
	}
	if started := testsidekiq.Started(p.ctx(), p.rdb); len(started) != 2 {
		t.Errorf("jobs started: %q, want only the two from before preStop", started)
	}
	if n := p.rdb.LLen(p.ctx(), "queue:default").Val(); n != 2 {
		t.Errorf("%d jobs left in the queue, want the 2 enqueued after preStop", n)
	}
}

// The kubelet calls preStop before a liveness restart too, then starts
// Sidekiq again in the same pod. The new process was never quieted: the pod
// is ready again once it beats, and the next preStop drains it.
func TestRealSidekiq_SidekiqStartedAgainAfterPreStopIsServedAndDrainedAgain(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	first := p.sidekiq(testsidekiq.Options{})
	p.waitCode("/readyz", http.StatusOK, 10*time.Second)
	if a := p.get("/prestop"); a.code != http.StatusOK {
		t.Fatalf("/prestop = %d %+v", a.code, a.verdict)
	}
	p.waitCode("/readyz", http.StatusServiceUnavailable, 10*time.Second)
	testkit.Must(t, first.Signal(syscall.SIGTERM))
	select {
	case <-first.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the quieted sidekiq did not exit on SIGTERM")
	}

	second := p.sidekiq(testsidekiq.Options{})
	p.waitCode("/readyz", http.StatusOK, 30*time.Second)
	if a := p.get("/prestop"); a.code != http.StatusOK || a.verdict.Reason != "drained: no job running" {
		t.Fatalf("second /prestop = %d %+v", a.code, a.verdict)
	}
	if a := p.get("/readyz"); a.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the second preStop = %d %+v, want 503", a.code, a.verdict)
	}
	id := second.WaitHeartbeat(t, p.rdb, 10*time.Second)
	if quiet := p.rdb.HGet(p.ctx(), id, "quiet").Val(); quiet != "true" {
		t.Errorf("the second sidekiq's heartbeat says quiet=%q, want true: the second preStop did not quiet it", quiet)
	}
}
