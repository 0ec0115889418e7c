package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

// Scenario is one worker in its own opted-in namespace, on its own Redis
// database, watched by an Observer from the moment it is deployed.
type Scenario struct {
	Env    *Env
	Name   string // names the summary
	Worker Worker
	Redis  *redis.Client // the worker's database
	obs    *Observer
}

// NewScenario deploys w in a new namespace and waits until its pods are
// ready. db is the Redis database the worker uses, emptied first.
func (e *Env) NewScenario(ctx context.Context, name string, db int, w Worker) (*Scenario, error) {
	w.RedisURL = e.Redis.URL(db)
	s := &Scenario{Env: e, Name: name, Worker: w, Redis: e.Redis.Client(db)}
	if err := s.Redis.FlushDB(ctx).Err(); err != nil {
		s.Redis.Close()
		return nil, err
	}
	if err := e.CreateNamespace(ctx, w.Namespace, true); err != nil {
		s.Redis.Close()
		return nil, err
	}
	s.obs = Observe(ctx, e.Cluster.Client, w.Namespace)
	if err := e.Deploy(ctx, w); err != nil {
		return s, fmt.Errorf("deploying the worker: %w", err)
	}
	return s, nil
}

// Close deletes the namespace (its pods drain and stop) and waits for it.
func (s *Scenario) Close(ctx context.Context) error {
	s.obs.Result()
	defer s.Redis.Close()
	return s.Env.DeleteNamespace(ctx, s.Worker.Namespace)
}

// Summary sums up the scenario for jobs.
func (s *Scenario) Summary(ctx context.Context, jobs Jobs) (Summary, error) {
	sum := Summary{Scenario: s.Name, Jobs: jobs, Pods: s.obs.Result()}
	events, err := s.Env.Cluster.Client.CoreV1().Events(s.Worker.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return sum, err
	}
	for _, ev := range events.Items {
		if ev.Reason == "Killing" && strings.Contains(ev.Message, "liveness") {
			sum.LivenessKills += max(1, int(ev.Count))
		}
	}
	return sum, nil
}

// RolloutOptions shape Rollout's job stream.
type RolloutOptions struct {
	Rolls int
	Rand  *rand.Rand    // the job lengths
	Every time.Duration // between two enqueued jobs; default 1.5 s
}

// Rollout rolls the worker opts.Rolls times, one after the other, while
// jobs of 1..MaxJobSeconds seconds keep arriving, then waits until the old
// pods are gone and every job has finished (or cannot any more).
func (s *Scenario) Rollout(ctx context.Context, opts RolloutOptions) (Summary, error) {
	if opts.Every == 0 {
		opts.Every = 1500 * time.Millisecond
	}
	stream := &Stream{Redis: s.Redis, Rand: opts.Rand, Every: opts.Every, MaxSeconds: MaxJobSeconds, Prefix: "job"}
	streamCtx, stopStream := context.WithCancel(ctx)
	streamDone := make(chan struct{})
	go func() { stream.Run(streamCtx); close(streamDone) }()
	stop := func() { stopStream(); <-streamDone }

	// Let both pods fill up with jobs before the first roll.
	time.Sleep(MaxJobSeconds / 2 * time.Second)
	for i := 1; i <= opts.Rolls; i++ {
		s.Env.log.Info("lifecycle: rolling the worker", "scenario", s.Name, "roll", i)
		if err := s.Env.Roll(ctx, s.Worker.Namespace, i); err != nil {
			stop()
			return Summary{}, fmt.Errorf("roll %d: %w", i, err)
		}
	}
	stop()
	ids, streamErr := stream.Enqueued()
	if err := s.Env.WaitOldPodsGone(ctx, s.Worker.Namespace); err != nil {
		return Summary{}, err
	}
	jobs, err := WaitJobs(ctx, s.Redis, ids, 2*time.Minute)
	if err != nil {
		return Summary{}, err
	}
	sum, err := s.Summary(ctx, jobs)
	return sum, errors.Join(streamErr, err)
}

// SidekiqPID is the pid of the Sidekiq process of pod, in the pod's PID
// namespace, read from its heartbeat identity (hostname:pid:nonce).
func (s *Scenario) SidekiqPID(ctx context.Context, pod string) (string, error) {
	var pid string
	err := cluster.Poll(ctx, time.Minute, func() error {
		members, err := s.Redis.SMembers(ctx, "processes").Result()
		if err != nil {
			return err
		}
		for _, m := range members {
			if parts := strings.Split(m, ":"); len(parts) == 3 && parts[0] == pod {
				pid = parts[1]
				return nil
			}
		}
		return fmt.Errorf("no heartbeat of pod %s in %q", pod, members)
	})
	return pid, err
}

// Exec runs a command in a container of a worker pod with the real kubectl.
func (s *Scenario) Exec(ctx context.Context, pod, container string, command ...string) (string, error) {
	c := s.Env.Cluster
	args := append([]string{"--kubeconfig=" + c.Kubeconfig, "-n", s.Worker.Namespace, "exec", pod, "-c", container, "--"}, command...)
	out, err := exec.CommandContext(ctx, c.Kubectl, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl exec %s: %w: %s", strings.Join(command, " "), err, out)
	}
	return string(out), nil
}

// StickHeartbeat kills the heartbeat thread of pod's Sidekiq (the test
// app's SIGWINCH hook): alive, but stuck as far as anyone can tell.
func (s *Scenario) StickHeartbeat(ctx context.Context, pod string) error {
	pid, err := s.SidekiqPID(ctx, pod)
	if err != nil {
		return err
	}
	_, err = s.Exec(ctx, pod, "sidekiq", "sh", "-c", "kill -WINCH "+pid)
	return err
}
