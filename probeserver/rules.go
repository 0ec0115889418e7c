package probeserver

import (
	"fmt"
	"time"
)

// Verdict is a probe's answer and the reason for it.
type Verdict struct {
	OK      bool   `json:"-"`
	Status  string `json:"status"` // "ok" or "fail"
	Reason  string `json:"reason"`
	Process string `json:"process,omitempty"`
}

func pass(reason string) Verdict { return Verdict{OK: true, Status: "ok", Reason: reason} }

func fail(p *Process, format string, args ...any) Verdict {
	v := Verdict{Status: "fail", Reason: fmt.Sprintf(format, args...)}
	if p != nil {
		v.Process = p.Name()
	}
	return v
}

// Rules are the settings the decisions depend on.
type Rules struct {
	HeartbeatTimeout        time.Duration
	RedisOutageRestartAfter time.Duration // 0: never fail liveness for an outage
	// QuietLimit is the longest a real termination keeps Sidekiq quiet:
	// max-job-seconds of drain, Sidekiq's shutdown timeout and the grace
	// margin. A quiet that lasts longer is spurious or left over; 0: never.
	QuietLimit time.Duration
}

// History is what the sidecar remembers between snapshots. The decisions need
// it because a heartbeat that is old only because Redis was unreachable must
// get a fresh timeout once Redis is back.
type History struct {
	RedisDownSince time.Time            // first failed look of the current outage; zero when Redis answers
	RedisBackAt    time.Time            // first good look after the last outage
	LastBeat       map[string]time.Time // newest beat seen per identity, for hashes that expired
	Quieted        bool                 // preStop has sent the quiet signal
	QuietSince     time.Time            // when preStop quieted Sidekiq
}

// Observe returns the history after snapshot s. It does not change h.
func (h History) Observe(s Snapshot) History {
	next := h
	if s.RedisErr != nil {
		if next.RedisDownSince.IsZero() {
			next.RedisDownSince = s.At
		}
		return next
	}
	if !h.RedisDownSince.IsZero() {
		next.RedisDownSince, next.RedisBackAt = time.Time{}, s.At
	}
	next.LastBeat = make(map[string]time.Time, len(s.Processes))
	for _, p := range s.Processes {
		beat := h.LastBeat[p.Identity]
		if p.Heartbeat != nil && p.Heartbeat.Beat.After(beat) {
			beat = p.Heartbeat.Beat
		}
		if p.Identity != "" && !beat.IsZero() {
			next.LastBeat[p.Identity] = beat
		}
	}
	return next
}

// Startup passes once every Sidekiq process of the pod has a heartbeat.
func Startup(s Snapshot) Verdict {
	if len(s.Processes) == 0 {
		return fail(nil, "no sidekiq process yet")
	}
	if s.RedisErr != nil {
		return fail(nil, "redis unreachable: %v", s.RedisErr)
	}
	for i, p := range s.Processes {
		if p.Heartbeat == nil {
			return fail(&s.Processes[i], "no heartbeat yet")
		}
	}
	return pass(fmt.Sprintf("%d sidekiq processes beating", len(s.Processes)))
}

// Live fails when a restart would help: a process stopped beating while Redis
// answers, or Sidekiq is gone. It passes while Redis is unreachable, because
// Sidekiq cannot beat then and a restarted Sidekiq exits at once without
// Redis, unless RedisOutageRestartAfter says otherwise.
func Live(s Snapshot, h History, r Rules) Verdict {
	if len(s.Processes) == 0 {
		return fail(nil, "no sidekiq process left")
	}
	// Checked before Redis: a quiet Sidekiq runs no job whatever Redis does,
	// and only a restart ends the quiet.
	if quiet := s.At.Sub(h.QuietSince); h.Quieted && r.QuietLimit > 0 && quiet > r.QuietLimit {
		return fail(nil, "quiet since preStop %v ago, longer than any termination takes (%v): a restart makes Sidekiq work again",
			quiet.Round(time.Second), r.QuietLimit)
	}
	if s.RedisErr != nil {
		down := s.At.Sub(h.RedisDownSince).Round(time.Second)
		if h.RedisDownSince.IsZero() {
			down = 0
		}
		if r.RedisOutageRestartAfter > 0 && down >= r.RedisOutageRestartAfter {
			return fail(nil, "redis unreachable for %v, restart after %v", down, r.RedisOutageRestartAfter)
		}
		return pass(fmt.Sprintf("redis unreachable for %v; a restart would not help", down))
	}
	for i, p := range s.Processes {
		// A process is judged from the latest of: its newest beat, Redis
		// coming back, and its own start. Each gives it a full timeout.
		since := latest(h.LastBeat[p.Identity], h.RedisBackAt, p.Started)
		if p.Heartbeat != nil {
			since = latest(since, p.Heartbeat.Beat)
		}
		age := s.At.Sub(since)
		if age <= r.HeartbeatTimeout {
			continue
		}
		if p.Heartbeat == nil {
			return fail(&s.Processes[i], "no heartbeat for %v", age.Round(time.Second))
		}
		if since.After(p.Heartbeat.Beat) {
			return fail(&s.Processes[i], "heartbeat did not resume %v after redis came back", age.Round(time.Second))
		}
		return fail(&s.Processes[i], "heartbeat %v old", age.Round(time.Second))
	}
	return pass("heartbeats fresh")
}

// Ready passes when the pod is live, Redis answers and no process is quiet.
// The sidecar's own quiet flag counts at once; Sidekiq's "quiet" field only
// turns true at its next heartbeat.
func Ready(s Snapshot, h History, r Rules) Verdict {
	if v := Live(s, h, r); !v.OK {
		return v
	}
	if s.RedisErr != nil {
		return fail(nil, "redis unreachable: %v", s.RedisErr)
	}
	if h.Quieted {
		return fail(nil, "quiet: preStop was called")
	}
	for i, p := range s.Processes {
		switch {
		case p.Heartbeat == nil:
			return fail(&s.Processes[i], "no heartbeat yet")
		case p.Heartbeat.Quiet:
			return fail(&s.Processes[i], "quiet")
		}
	}
	return pass("ready")
}

func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
