package probeserver

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

// maxAckDelay bounds how long after preStop Sidekiq may take the quiet
// signal and still have max-job-seconds counted from then. A signal pushed
// through Redis is taken at the next heartbeat: at most 5 s later on
// Sidekiq 6.4, 10 s from 6.5 on, 11.34 s measured on 7/8 with every thread
// running CPU-bound jobs. It is
// below contract.GraceMarginSeconds, so the pod's grace period still covers
// the drain, SIGTERM and Sidekiq's own shutdown timeout.
const maxAckDelay = 12 * time.Second

// quieting is how far the quiet of one process has got.
type quieting struct {
	viaRedis bool
	sentAt   time.Time
	// ackedAt is when Sidekiq took the signal: at once for a signal,
	// when its "-signals" list was seen empty for a push. The drain counts
	// max-job-seconds from there: every job it may still run was fetched
	// before.
	ackedAt  time.Time
	pushBeat time.Time // the beat known when pushing; the one that takes it is newer
	ackBeat  time.Time // the beat that took it
	// ackIdle: the beat that took the signal showed no running job.
	ackIdle bool
}

// drainRun is one drain's knowledge of every process it met.
type drainRun struct {
	s     *Server
	start time.Time
	procs map[processKey]*quieting
	seen  map[processKey]bool
	noted map[processKey]string // last reason logged for a process not quieted yet
}

func newDrainRun(s *Server) *drainRun {
	return &drainRun{s: s, start: s.clock(), procs: map[processKey]*quieting{},
		seen: map[processKey]bool{}, noted: map[processKey]string{}}
}

// quietAll quiets every process that is ready for it and follows the
// signals pushed through Redis.
func (r *drainRun) quietAll(snap Snapshot) {
	for _, p := range snap.Processes {
		k := keyOf(p)
		r.seen[k] = true
		q := r.procs[k]
		switch {
		case q == nil:
			r.procs[k] = r.quiet(p)
		case q.viaRedis && q.ackedAt.IsZero():
			r.s.checkAck(p, q)
		case q.viaRedis && lost(p, q):
			r.s.log.Warn("preStop: a beat after the signal was taken says not quiet; pushing it again", "process", p.Name())
			r.procs[k] = r.quiet(p)
		}
	}
}

// lost reports a pushed signal that Sidekiq never took: a later beat still
// says not quiet, though Sidekiq reports quiet at the beat after taking it.
// The list was emptied by something else (a Redis failover or flush).
func lost(p Process, q *quieting) bool {
	return p.Heartbeat != nil && !p.Heartbeat.Quiet && p.Heartbeat.Beat.After(q.ackBeat)
}

// quiet signals p once it is a booted Sidekiq that traps the signal, or
// pushes the signal through Redis when the kernel refuses (another UID, no
// CAP_KILL). It returns nil when p is not quieted yet.
func (r *drainRun) quiet(p Process) *quieting {
	s, now := r.s, r.s.clock()
	if why := s.notReady(p); why != "" {
		r.note(p, why)
		return nil
	}
	err := s.signal(p.PID, s.cfg.QuietSignal)
	switch {
	case err == nil, errors.Is(err, syscall.ESRCH):
		s.log.Info("preStop: signalled", "process", p.Name(), "signal", s.cfg.QuietSignalName, "err", err)
		return &quieting{sentAt: now, ackedAt: now}
	case !errors.Is(err, syscall.EPERM):
		s.log.Error("preStop: signal", "process", p.Name(), "err", err)
		return nil
	case p.Identity == "":
		r.note(p, "may not signal it, and no heartbeat to reach it through Redis yet")
		return nil
	}
	if err := s.pushQuiet(p); err != nil {
		s.log.Error("preStop: signal through redis", "process", p.Name(), "err", err)
		return nil
	}
	q := &quieting{viaRedis: true, sentAt: now}
	if p.Heartbeat != nil {
		q.pushBeat = p.Heartbeat.Beat
	}
	return q
}

// notReady says why p may not get the quiet signal yet, or "". Only a
// booted Sidekiq worker gets it: one that owns a heartbeat identity or shows
// Sidekiq's own title, and traps the signal. Sent before Sidekiq installed
// its handlers, or to a supervisor, SIGTSTP would stop the process instead.
func (s *Server) notReady(p Process) string {
	if p.Identity == "" && !procfs.IsTitle(p.Cmdline) {
		return "no heartbeat identity yet (booting, or not a Sidekiq worker)"
	}
	traps, err := s.obs.Proc.Catches(p.PID, s.cfg.QuietSignal)
	if err != nil {
		return "reading its signal handlers: " + err.Error()
	}
	if !traps {
		return "does not trap SIG" + s.cfg.QuietSignalName + " yet"
	}
	return ""
}

// note logs why p is not quieted yet, once per reason.
func (r *drainRun) note(p Process, why string) {
	if r.noted[keyOf(p)] != why {
		r.noted[keyOf(p)] = why
		r.s.log.Info("preStop: not quieting yet", "process", p.Name(), "why", why)
	}
}

// deadline is max-job-seconds after preStop, or after the latest
// acknowledgement, bounded by maxAckDelay.
func (r *drainRun) deadline() time.Time {
	maxJob := r.s.cfg.MaxJobTime
	d := r.start.Add(maxJob)
	for _, q := range r.procs {
		if q != nil && !q.ackedAt.IsZero() && q.ackedAt.Add(maxJob).After(d) {
			d = q.ackedAt.Add(maxJob)
		}
	}
	if bound := r.start.Add(maxJob + maxAckDelay); d.After(bound) {
		d = bound
	}
	return d
}

// stillRunning says what the drain still waits for, or "" when done.
func (r *drainRun) stillRunning(s Snapshot) string {
	var waits []string
	for _, p := range s.Processes {
		if w := r.wait(p, s.RedisErr); w != "" {
			waits = append(waits, p.Name()+": "+w)
		}
	}
	return strings.Join(waits, "; ")
}

// wait says what one process still waits for, or "" once it is drained:
//   - it took the signal from Redis at a beat that showed no job: that beat
//     wrote busy and the work hash just before popping the signal, and
//     Sidekiq handles it right after. Only a job fetched in those few
//     milliseconds escapes it: a worker idle at the beat waits on empty
//     queues, so that takes a job enqueued in them. Waiting for the next
//     beat instead would cost a whole period (5 or 10 s) on every drain;
//     such a job still gets Sidekiq's own -t after SIGTERM and is pushed
//     back unfinished, never lost;
//   - else once a heartbeat says quiet and no job: Sidekiq writes the quiet
//     flag, busy and the work hash at each beat, so that beat was written
//     after it stopped fetching, and shows every job it still runs.
func (r *drainRun) wait(p Process, redisErr error) string {
	q := r.procs[keyOf(p)]
	switch {
	case q == nil:
		return "not quieted yet (" + firstOf(r.noted[keyOf(p)], "signal failed") + ")"
	case q.viaRedis && q.ackedAt.IsZero():
		return "quiet signal pushed to redis, not taken yet"
	case q.ackIdle:
		return ""
	case redisErr != nil:
		return "redis unreachable"
	case p.Heartbeat == nil:
		return "no heartbeat"
	case !p.Heartbeat.Quiet:
		return "not quiet yet"
	case p.Jobs > 0:
		return fmt.Sprintf("%d jobs running", p.Jobs)
	}
	return ""
}
