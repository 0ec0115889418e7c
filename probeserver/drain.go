package probeserver

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Signaler sends a signal to a process: syscall.Kill in production. Tests
// inject one to see the fallback taken when the kernel refuses.
type Signaler func(pid int, sig syscall.Signal) error

// drainPoll is how often a drain looks at the running jobs. Sidekiq only
// reports them once per heartbeat (5 or 10 s), but each look after that
// heartbeat is time the pod waits to stop: at 250 ms a drain ends on average
// 125 ms after the heartbeat that allows it, instead of 500 ms at 1 s, for
// four Redis round trips a second during the drain only.
const drainPoll = 250 * time.Millisecond

// drain is one preStop drain of the pod. Every call to PreStop, at the same
// time or later, waits for the same drain and gets its result, until a
// Sidekiq process the drain never saw appears (see restartedSince).
type drain struct {
	once   sync.Once
	done   chan struct{} // closed when result and seen are set
	result Verdict
	seen   map[processKey]bool // every process the drain looked at
}

func newDrain() *drain { return &drain{done: make(chan struct{})} }

// processKey names a process across pid reuse.
type processKey struct {
	pid     int
	started int64 // unix seconds
}

func keyOf(p Process) processKey { return processKey{p.PID, p.Started.Unix()} }

// restartedSince reports whether snap shows a Sidekiq process that started
// after this drain ended. The kubelet calls preStop before a liveness
// restart too, and then starts Sidekiq again in the same pod: that new
// process has not been quieted, so the pod may be ready again and a later
// preStop must drain it.
func (d *drain) restartedSince(snap Snapshot) bool {
	select {
	case <-d.done:
	default:
		return false // a running drain quiets newcomers itself
	}
	for _, p := range snap.Processes {
		if !d.seen[keyOf(p)] {
			return true
		}
	}
	return false
}

// PreStop quiets every Sidekiq process of the pod and waits until none runs a
// job, or MaxJobTime has passed. It returns early with a failure only when
// ctx ends first; the drain itself goes on.
func (s *Server) PreStop(ctx context.Context) Verdict {
	if snap, _, err := s.look(ctx); err == nil {
		if v, ok := embeddedVerdict(snap, false); ok {
			s.log.Error("preStop: nothing drained", "reason", v.Reason, "process", v.Process)
			return v // no quiet, no signal: SIGTERM follows at once
		}
	}
	s.mu.Lock()
	d := s.drain
	s.mu.Unlock()
	d.once.Do(func() {
		s.mu.Lock()
		s.hist.Quieted = true // readiness drops now, not a heartbeat later
		s.hist.QuietSince = s.clock()
		s.mu.Unlock()
		s.log.Info("preStop: quieting sidekiq", "max_job_time", s.cfg.MaxJobTime)
		go s.runDrain(d)
	})
	select {
	case <-d.done:
		return d.result
	case <-ctx.Done():
		return fail(nil, "caller left before the drain ended")
	}
}

func (s *Server) runDrain(d *drain) {
	r := newDrainRun(s)
	defer func() {
		d.seen = r.seen
		close(d.done)
	}()
	for {
		snap, _, err := s.look(context.Background())
		if err != nil {
			s.log.Error("preStop: reading /proc", "err", err)
		} else {
			// Every round: a process may appear or become ready, or a
			// signal may have failed while Redis was away.
			r.quietAll(snap)
			if wait := r.stillRunning(snap); wait == "" {
				d.result = pass("drained: no job running")
				s.log.Info("preStop: drained", "after", s.clock().Sub(r.start))
				return
			} else if !s.clock().Before(r.deadline()) {
				d.result = pass(fmt.Sprintf("max-job-seconds passed, %s", wait))
				s.log.Warn("preStop: gave up waiting", "still", wait)
				return
			}
		}
		if !s.clock().Before(r.deadline()) {
			d.result = pass("max-job-seconds passed")
			return
		}
		time.Sleep(drainPoll)
	}
}
