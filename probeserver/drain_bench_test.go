package probeserver

import (
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// BenchmarkDetectionAndDrain times, with real Sidekiq 6.4.1 (heartbeat every
// 5 s) and real Redis, what the kubelet will see. Each op is one fresh pod;
// run with -benchtime=1x (about a minute in all). The figures are in the
// custom metrics; ns/op is the whole op.
func BenchmarkDetectionAndDrain(b *testing.B) {
	// From Sidekiq's last beat to the sidecar's first /livez 503, with a 10 s
	// heartbeat timeout; the kubelet adds up to one liveness period.
	b.Run("stuck-heartbeat", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			p := startPod(b, podOptions{heartbeatTimeout: 10 * time.Second})
			sk := p.sidekiq(testsidekiq.Options{})
			id := sk.WaitHeartbeat(b, p.rdb, 10*time.Second)
			p.waitCode("/livez", http.StatusOK, 10*time.Second)
			// The test app's fault: SIGWINCH kills the heartbeat thread.
			if err := sk.Signal(syscall.SIGWINCH); err != nil {
				b.Fatal(err)
			}
			p.waitCode("/livez", http.StatusServiceUnavailable, 30*time.Second)
			beat, err := strconv.ParseFloat(p.rdb.HGet(p.ctx(), id, "beat").Val(), 64)
			if err != nil {
				b.Fatal(err)
			}
			total += time.Since(time.Unix(0, int64(beat*1e9)))
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "beat-to-503-s")
	})

	// From the end of the last running job to /prestop returning.
	b.Run("prestop-after-last-job", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			p := startPod(b, podOptions{maxJobTime: 60 * time.Second})
			p.sidekiq(testsidekiq.Options{Concurrency: 1})
			if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 3, "last"); err != nil {
				b.Fatal(err)
			}
			testkit.WaitFor(b, 10*time.Second, "the job to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 1 })
			jobEnded := make(chan time.Time, 1)
			go func() {
				for !slices.Contains(testsidekiq.Done(p.ctx(), p.rdb), "last") {
					time.Sleep(10 * time.Millisecond)
				}
				jobEnded <- time.Now()
			}()
			if a := p.get("/prestop"); a.code != http.StatusOK {
				b.Fatalf("/prestop = %d %+v", a.code, a.verdict)
			}
			total += time.Since(<-jobEnded)
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "job-end-to-prestop-s")
	})

	// The drain through Redis, as when Sidekiq runs under another UID than
	// the sidecar: from /prestop to "drained" for a job that ends 2 s after
	// the call. Sidekiq takes the pushed signal at its next beat, so the time
	// depends on where in the 5 s heartbeat period the call lands: each op
	// drains five fresh pods, at 0.5, 1.5, 2.5, 3.5 and 4.5 s after a beat,
	// and reports the mean and the longest.
	b.Run("redis-drain-job-ends-2s", func(b *testing.B) {
		bin := testsidekiq.BuildProbe(b)
		var total, longest time.Duration
		for b.Loop() {
			for phase := 500 * time.Millisecond; phase < 5*time.Second; phase += time.Second {
				d := redisDrain(b, bin, phase)
				total += d
				longest = max(longest, d)
			}
		}
		b.ReportMetric(total.Seconds()/float64(5*b.N), "prestop-to-drained-s")
		b.ReportMetric(longest.Seconds(), "longest-s")
	})

	// An idle worker stopped as the injected pod is: preStop, then SIGTERM.
	// The drain ends at the first heartbeat after the quiet signal; the stop
	// starts half a heartbeat period after a beat, the mean case (a stop at
	// a random time waits 0 to 5 s for that heartbeat on Sidekiq 6.4).
	b.Run("idle-stop", func(b *testing.B) {
		var prestop, total time.Duration
		for b.Loop() {
			p := startPod(b, podOptions{})
			sk := p.sidekiq(testsidekiq.Options{})
			waitBeatPhase(b, p, sk, 2500*time.Millisecond)
			start := time.Now()
			if a := p.get("/prestop"); a.code != http.StatusOK {
				b.Fatalf("/prestop = %d %+v", a.code, a.verdict)
			}
			prestop += time.Since(start)
			if err := sk.Signal(syscall.SIGTERM); err != nil {
				b.Fatal(err)
			}
			waitExit(b, sk, 30*time.Second)
			total += time.Since(start)
		}
		b.ReportMetric(prestop.Seconds()/float64(b.N), "prestop-s")
		b.ReportMetric(total.Seconds()/float64(b.N), "stop-s")
	})

	// The baseline: a plain SIGTERM to a worker running a long job, as a
	// pod without the sidecar is stopped; Sidekiq waits its -t 25 s.
	b.Run("plain-sigterm-busy", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			p := startPod(b, podOptions{})
			sk := p.sidekiq(testsidekiq.Options{Timeout: 25})
			if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 60, "long"); err != nil {
				b.Fatal(err)
			}
			testkit.WaitFor(b, 10*time.Second, "the job to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 1 })
			start := time.Now()
			if err := sk.Signal(syscall.SIGTERM); err != nil {
				b.Fatal(err)
			}
			waitExit(b, sk, 40*time.Second)
			total += time.Since(start)
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "stop-s")
	})
}

// waitBeatPhase returns phase after sk's next heartbeat.
func waitBeatPhase(b *testing.B, p *testPod, sk *testsidekiq.Sidekiq, phase time.Duration) {
	id := sk.WaitHeartbeat(b, p.rdb, 10*time.Second)
	first := p.rdb.HGet(p.ctx(), id, "beat").Val()
	var beat string
	testkit.WaitFor(b, 15*time.Second, "a new heartbeat", func() bool {
		beat = p.rdb.HGet(p.ctx(), id, "beat").Val()
		return beat != first
	})
	at, err := strconv.ParseFloat(beat, 64)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Until(time.Unix(0, int64(at*1e9)).Add(phase)))
}

func waitExit(b *testing.B, sk *testsidekiq.Sidekiq, within time.Duration) {
	select {
	case <-sk.Exited():
	case <-time.After(within):
		b.Fatalf("sidekiq still running %v after SIGTERM", within)
	}
}

// redisDrain times one /prestop on a fresh pod whose Sidekiq (UID 65534)
// the sidecar binary (UID 65532) may not signal. The 2 s job starts about
// phase after a heartbeat and /prestop is called as it starts.
func redisDrain(b *testing.B, bin string, phase time.Duration) time.Duration {
	p := startPod(b, podOptions{})
	sk := p.sidekiq(testsidekiq.Options{Concurrency: 1, Credential: otherUID})
	probe := startSidecarAs(b, p, sidecarUID, bin, "--max-job-seconds=60")
	waitBeatPhase(b, p, sk, phase)
	if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 2, "two-seconds"); err != nil {
		b.Fatal(err)
	}
	testkit.WaitFor(b, 10*time.Second, "the job to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 1 })
	start := time.Now()
	resp, err := http.Get(probe.Base + "/prestop")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK || !slices.Contains(testsidekiq.Done(p.ctx(), p.rdb), "two-seconds") {
		b.Fatalf("/prestop = %d before the job was done", resp.StatusCode)
	}
	return took
}
