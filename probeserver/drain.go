package probeserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	seen, signalled := map[processKey]bool{}, map[processKey]bool{}
	defer func() {
		d.seen = seen
		close(d.done)
	}()
	deadline := s.clock().Add(s.cfg.MaxJobTime)
	for {
		snap, _, err := s.look(context.Background())
		if err != nil {
			s.log.Error("preStop: reading /proc", "err", err)
		} else {
			// Signal every round: a process may appear, or a signal may
			// have failed while Redis was away.
			for _, p := range snap.Processes {
				seen[keyOf(p)] = true
				if !signalled[keyOf(p)] {
					signalled[keyOf(p)] = s.quiet(p)
				}
			}
			if wait := stillRunning(snap); wait == "" {
				d.result = pass("drained: no job running")
				s.log.Info("preStop: drained")
				return
			} else if !s.clock().Before(deadline) {
				d.result = pass(fmt.Sprintf("max-job-seconds passed, %s", wait))
				s.log.Warn("preStop: gave up waiting", "still", wait)
				return
			}
		}
		if !s.clock().Before(deadline) {
			d.result = pass("max-job-seconds passed")
			return
		}
		time.Sleep(drainPoll)
	}
}

// quiet sends the quiet signal to p, or, when the kernel refuses (another
// UID, no CAP_KILL), pushes it to the list Sidekiq reads at every heartbeat.
// It reports whether p got the signal one way or the other.
func (s *Server) quiet(p Process) bool {
	err := s.signal(p.PID, s.cfg.QuietSignal)
	switch {
	case err == nil, errors.Is(err, syscall.ESRCH):
		s.log.Info("preStop: signalled", "process", p.Name(), "signal", s.cfg.QuietSignalName, "err", err)
		return true
	case !errors.Is(err, syscall.EPERM):
		s.log.Error("preStop: signal", "process", p.Name(), "err", err)
		return false
	case p.Identity == "":
		s.log.Error("preStop: may not signal and no heartbeat to reach it through Redis yet", "process", p.Name())
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Redis.Timeout)
	defer cancel()
	key := s.obs.key(p.Identity + "-signals")
	if err := s.obs.Redis.LPush(ctx, key, s.cfg.QuietSignalName).Err(); err != nil {
		s.log.Error("preStop: signal through redis", "process", p.Name(), "err", err)
		return false
	}
	s.log.Info("preStop: signal pushed through redis", "process", p.Name(), "key", key)
	return true
}

// stillRunning says what the drain still waits for, or "" when done. A
// process counts as drained once a heartbeat says it is quiet and runs no
// job: the quiet flag proves the beat was written after it stopped fetching.
func stillRunning(s Snapshot) string {
	if s.RedisErr != nil && len(s.Processes) > 0 {
		return "redis unreachable"
	}
	var waits []string
	for _, p := range s.Processes {
		switch {
		case p.Heartbeat == nil:
			waits = append(waits, p.Name()+": no heartbeat")
		case !p.Heartbeat.Quiet:
			waits = append(waits, p.Name()+": not quiet yet")
		case p.Jobs > 0:
			waits = append(waits, fmt.Sprintf("%s: %d jobs running", p.Name(), p.Jobs))
		}
	}
	return strings.Join(waits, "; ")
}
