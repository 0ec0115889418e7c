package lifecycle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

// TestLifecycle runs the scenarios one after the other on one real node,
// each in its own namespace and Redis database. They assert counts, never
// timings; each logs its one-line summary, also written to
// bin/lifecycle/summary.txt.
func TestLifecycle(t *testing.T) {
	root := testkit.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	// failurePolicy Fail: a pod the webhook did not see is never created,
	// so every pod of an injected scenario is one the product shaped.
	env, err := Start(ctx, EnvOptions{StateDir: filepath.Join(root, "bin", "cluster-lifecycle"),
		ChartValues: []string{"webhook.failurePolicy=Fail"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	summaries := &summaryFile{path: filepath.Join(root, "bin", "lifecycle", "summary.txt")}

	for i, sc := range []struct {
		name string
		run  func(t *testing.T, ctx context.Context, env *Env, db int) Summary
	}{
		{"a rolling update loses and cuts off no job", rollingUpdate},
		{"a preStop call without the token is refused and the worker keeps working", preStopWithoutToken},
		{"a stuck worker is restarted, the other is left alone", stuckWorker},
		{"a worker busy with long jobs is never restarted", busyWorker},
		{"a Redis outage restarts nothing", redisOutage},
		{"with different UIDs the quiet signal goes through Redis and no job is lost", differentUIDs},
		{"baseline: without the webhook a rollout cuts jobs off", baseline},
	} {
		db := i + 1 // Redis database 0 stays unused
		if !t.Run(sc.name, func(t *testing.T) {
			sum := sc.run(t, ctx, env, db)
			t.Log(sum)
			summaries.add(t, sum)
		}) && ctx.Err() != nil {
			return
		}
	}
}

// TestLifecycle_PolicyMode runs the rolling update once more with the chart
// in policy mode: no webhook, the API server injects (MutatingAdmissionPolicy)
// and the pods' preStop token is the release's. policy.failurePolicy is Fail
// by default: every pod of the scenario is one the policy shaped.
func TestLifecycle_PolicyMode(t *testing.T) {
	root := testkit.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	env, err := Start(ctx, EnvOptions{StateDir: filepath.Join(root, "bin", "cluster-lifecycle"),
		ChartValues: []string{"mode=policy"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	sum := rollingUpdateNamed(t, ctx, env, 1, "rolling update, policy mode")
	t.Log(sum)
	(&summaryFile{path: filepath.Join(root, "bin", "lifecycle", "summary-policy.txt")}).add(t, sum)
}

func rollingUpdate(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	return rollingUpdateNamed(t, ctx, env, db, "rolling update")
}

func rollingUpdateNamed(t *testing.T, ctx context.Context, env *Env, db int, name string) Summary {
	s := newScenario(t, ctx, env, name, db, Worker{Namespace: "rolling", Inject: true})
	sum, err := s.Rollout(ctx, RolloutOptions{Rolls: 3, Rand: rand.New(rand.NewPCG(1, 1))})
	testkit.Must(t, err)
	expectAllInjected(t, sum)
	expectNoLoss(t, sum)
	if sum.Restarts != 0 || sum.SIGKILLs != 0 {
		t.Errorf("restarts %d, SIGKILLs %d: want none", sum.Restarts, sum.SIGKILLs)
	}
	if len(sum.Stops) < 6 || sum.QuietBySignal < 6 || sum.QuietByRedis != 0 {
		t.Errorf("%d pods stopped, quieted by signal %d and through redis %d: want 6 old pods each quieted by signal",
			len(sum.Stops), sum.QuietBySignal, sum.QuietByRedis)
	}
	return sum
}

func preStopWithoutToken(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	s := newScenario(t, ctx, env, "preStop without the token", db, Worker{Namespace: "token", Inject: true})
	pods, err := env.Pods(ctx, s.Worker.Namespace)
	testkit.Must(t, err)
	target, other := pods[0].Name, pods[1].Name
	preStop, err := s.SidecarURL(ctx, target, contract.PathPreStop)
	testkit.Must(t, err)
	ready, err := s.SidecarURL(ctx, target, contract.PathReady)
	testkit.Must(t, err)

	// Jobs run on both pods while the calls arrive.
	ids := enqueue(t, ctx, s, "during", workerReplicas*Concurrency, 10)
	code, err := s.GetFromPod(ctx, other, preStop)
	testkit.Must(t, err)
	if code != "403" {
		t.Errorf("/prestop from pod %s without the token: %s, want 403", other, code)
	}
	for what, token := range map[string]string{"without the token": "", "with a wrong token": "not-the-pods-token-0123456789"} {
		code, err := GetFromNode(ctx, preStop, token)
		testkit.Must(t, err)
		if code != http.StatusForbidden {
			t.Errorf("/prestop from the node %s: %d, want 403", what, code)
		}
	}
	// A refused call quiets nothing: the sidecar still says ready, and
	// Sidekiq takes new jobs, not quiet, by its own heartbeat.
	if code, err := GetFromNode(ctx, ready, ""); err != nil || code != http.StatusOK {
		t.Errorf("/readyz of pod %s after the refused calls: %d (%v), want 200", target, code, err)
	}
	ids = append(ids, enqueue(t, ctx, s, "after", workerReplicas*Concurrency, 10)...)
	testkit.Must(t, cluster.Poll(ctx, time.Minute, func() error { return s.Working(ctx, target) }))

	sum := settle(t, ctx, s, ids)
	if sum.Restarts != 0 || sum.QuietBySignal+sum.QuietByRedis != 0 {
		t.Errorf("restarts %d, quiet by signal %d, through redis %d: want no restart and no quiet", sum.Restarts, sum.QuietBySignal, sum.QuietByRedis)
	}
	return sum
}

func stuckWorker(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	s := newScenario(t, ctx, env, "stuck worker", db, Worker{Namespace: "stuck", Inject: true})
	pods, err := env.Pods(ctx, s.Worker.Namespace)
	testkit.Must(t, err)
	stuck, other := pods[0].Name, pods[1].Name
	testkit.Must(t, s.StickHeartbeat(ctx, stuck))
	stuckAt := time.Now()
	testkit.Must(t, cluster.Poll(ctx, 5*time.Minute, func() error {
		if n := s.obs.RestartsOf()[stuck]; n == 0 {
			return fmt.Errorf("pod %s not restarted yet", stuck)
		}
		return nil
	}))
	t.Logf("heartbeat stopped -> container restarted after %s (heartbeat timeout %d s, liveness 3 x 10 s, then the preStop drain of up to %d s)",
		time.Since(stuckAt).Round(time.Second), HeartbeatTimeout, MaxJobSeconds)
	testkit.Must(t, env.WaitRolledOut(ctx, s.Worker.Namespace))

	sum := settle(t, ctx, s, enqueue(t, ctx, s, "after", 6, 2))
	restarts := s.obs.RestartsOf()
	if restarts[stuck] != 1 || restarts[other] != 0 {
		t.Errorf("restarts: stuck pod %d, other pod %d; want 1 and 0", restarts[stuck], restarts[other])
	}
	if sum.LivenessKills < 1 || sum.SIGKILLs != 0 {
		t.Errorf("liveness kills %d, SIGKILLs %d: want the kubelet's liveness restart, with no SIGKILL", sum.LivenessKills, sum.SIGKILLs)
	}
	return sum
}

func busyWorker(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	s := newScenario(t, ctx, env, "busy worker", db, Worker{Namespace: "busy", Inject: true})
	// Every thread of both pods runs a job twice as long as the heartbeat
	// timeout.
	ids := enqueue(t, ctx, s, "long", workerReplicas*Concurrency, 2*HeartbeatTimeout)
	testkit.Must(t, cluster.Poll(ctx, time.Minute, func() error {
		if n := len(testsidekiq.Started(ctx, s.Redis)); n < len(ids) {
			return fmt.Errorf("%d of %d long jobs started", n, len(ids))
		}
		return nil
	}))
	sum := settle(t, ctx, s, ids)
	if sum.Restarts != 0 || sum.LivenessKills != 0 {
		t.Errorf("restarts %d, liveness kills %d: a busy Sidekiq must never be restarted", sum.Restarts, sum.LivenessKills)
	}
	return sum
}

func redisOutage(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	s := newScenario(t, ctx, env, "redis outage 30 s", db, Worker{Namespace: "outage", Inject: true})
	outage := make(chan error, 1)
	go func() { outage <- env.Redis.Outage(ctx, 30*time.Second) }()
	// The outage is seen: readiness fails while Redis is away.
	testkit.Must(t, cluster.Poll(ctx, time.Minute, func() error {
		pods, err := env.Pods(ctx, s.Worker.Namespace)
		if err != nil {
			return err
		}
		for _, p := range pods {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return fmt.Errorf("pod %s still ready during the outage", p.Name)
				}
			}
		}
		return nil
	}))
	testkit.Must(t, <-outage)
	testkit.Must(t, env.WaitRolledOut(ctx, s.Worker.Namespace))
	sum := settle(t, ctx, s, enqueue(t, ctx, s, "after", 6, 2))
	if sum.Restarts != 0 || sum.LivenessKills != 0 {
		t.Errorf("restarts %d, liveness kills %d: a Redis outage must restart nothing", sum.Restarts, sum.LivenessKills)
	}
	return sum
}

func differentUIDs(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	// The pod does not state a UID: Sidekiq runs as its image's (1000),
	// the sidecar as its own image's (65532), and the kernel refuses the
	// quiet signal.
	s := newScenario(t, ctx, env, "different UIDs", db, Worker{Namespace: "uids", Inject: true, ImageUID: true})
	sum, err := s.Rollout(ctx, RolloutOptions{Rolls: 3, Rand: rand.New(rand.NewPCG(1, 1))})
	testkit.Must(t, err)
	expectAllInjected(t, sum)
	expectNoLoss(t, sum)
	if sum.SIGKILLs != 0 {
		t.Errorf("SIGKILLs %d: want none", sum.SIGKILLs)
	}
	if sum.QuietByRedis < 6 || sum.QuietBySignal != 0 {
		t.Errorf("quieted by signal %d, through redis %d: want every old pod quieted through redis", sum.QuietBySignal, sum.QuietByRedis)
	}
	return sum
}

func baseline(t *testing.T, ctx context.Context, env *Env, db int) Summary {
	s := newScenario(t, ctx, env, "baseline, no webhook", db, Worker{Namespace: "baseline"})
	sum, err := s.Rollout(ctx, RolloutOptions{Rolls: 3, Rand: rand.New(rand.NewPCG(1, 1))})
	testkit.Must(t, err)
	if sum.Uninjected != sum.Seen {
		t.Errorf("%d of %d pods injected without the annotation", sum.Seen-sum.Uninjected, sum.Seen)
	}
	// Sidekiq's 8 s shutdown timeout is shorter than the jobs: what runs
	// longer is pushed back and started again, or lost.
	if sum.CutOff == 0 {
		t.Errorf("no job cut off by plain SIGTERM: the baseline did not exercise long jobs (%s)", sum)
	}
	return sum
}

func newScenario(t *testing.T, ctx context.Context, env *Env, name string, db int, w Worker) *Scenario {
	t.Helper()
	s, err := env.NewScenario(ctx, name, db, w)
	if s != nil {
		t.Cleanup(func() {
			if err := s.Close(context.WithoutCancel(ctx)); err != nil {
				t.Errorf("deleting namespace %s: %v", w.Namespace, err)
			}
		})
	}
	testkit.Must(t, err)
	return s
}

// enqueue pushes n jobs of the given seconds and returns their ids.
func enqueue(t *testing.T, ctx context.Context, s *Scenario, prefix string, n, seconds int) []string {
	t.Helper()
	var ids []string
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		testkit.Must(t, testsidekiq.Enqueue(ctx, s.Redis, float64(seconds), id))
		ids = append(ids, id)
	}
	return ids
}

// settle waits for ids to finish, sums the scenario up and expects every
// job completed exactly once.
func settle(t *testing.T, ctx context.Context, s *Scenario, ids []string) Summary {
	t.Helper()
	jobs, err := WaitJobs(ctx, s.Redis, ids, 3*time.Minute)
	testkit.Must(t, err)
	sum, err := s.Summary(ctx, jobs)
	testkit.Must(t, err)
	expectNoLoss(t, sum)
	return sum
}

func expectNoLoss(t *testing.T, sum Summary) {
	t.Helper()
	if sum.Enqueued == 0 || sum.Completed != sum.Enqueued || sum.Lost != 0 || sum.Duplicated != 0 || sum.CutOff != 0 {
		t.Errorf("jobs: %+v; want every job completed exactly once", sum.Jobs)
	}
}

func expectAllInjected(t *testing.T, sum Summary) {
	t.Helper()
	if sum.Uninjected != 0 {
		t.Errorf("%d of %d pods were not injected", sum.Uninjected, sum.Seen)
	}
}

// summaryFile collects the summary lines of one run.
type summaryFile struct {
	path  string
	lines []byte
}

func (f *summaryFile) add(t *testing.T, sum Summary) {
	f.lines = fmt.Appendf(f.lines, "%s\n", sum)
	testkit.Must(t, os.MkdirAll(filepath.Dir(f.path), 0o755))
	testkit.Must(t, os.WriteFile(f.path, f.lines, 0o644))
}
