package probeserver

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Verdict is a probe's answer and the reason for it.
type Verdict struct {
	OK      bool   `json:"-"`
	Status  string `json:"status"` // "ok", "fail" or "unsupported" (embedded.go)
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
	// HeartbeatTimeout is the configured timeout; each process is judged by
	// at least two of its version's heartbeat periods (timeoutFor).
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
	if v, ok := embeddedVerdict(s, true); ok {
		return v
	}
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
	if v, ok := embeddedVerdict(s, true); ok {
		return v
	}
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
		age, timeout := s.At.Sub(since), r.timeoutFor(p)
		if age <= timeout {
			continue
		}
		if p.Heartbeat == nil {
			return fail(&s.Processes[i], "no heartbeat for %v (timeout %v)", age.Round(time.Second), timeout)
		}
		if since.After(p.Heartbeat.Beat) {
			return fail(&s.Processes[i], "heartbeat did not resume %v after redis came back (timeout %v)", age.Round(time.Second), timeout)
		}
		return fail(&s.Processes[i], "heartbeat %v old (timeout %v)", age.Round(time.Second), timeout)
	}
	return pass("heartbeats fresh")
}

// timeoutFor is the heartbeat timeout p is judged by: the configured one,
// raised to two heartbeat periods of p's Sidekiq version. Sidekiq sleeps a
// fixed pause after each beat (BEAT_PAUSE: 5 s up to 6.4, 10 s from 6.5 on),
// and the beat itself waits for Ruby's GVL while every thread runs CPU-bound
// jobs: Sidekiq 7/8 were measured 10.001-11.34 s apart. A timeout of one
// period would fail such a healthy process before each beat; two let a beat
// come a whole period late (a 100 % stretch, 13 % measured) and still fail a
// stuck process once it has missed two. So the accepted 10 s keeps its
// meaning for Sidekiq 6.4, and acts as 20 s for 6.5, 7 and 8; the default
// 60 s is above every floor, so a stuck process fails the first probe after
// 60 s.
func (r Rules) timeoutFor(p Process) time.Duration {
	return max(r.HeartbeatTimeout, 2*heartbeatPeriod(sidekiqVersion(p)))
}

// heartbeatPeriod is Sidekiq's pause between beats for a version; an
// unknown version gets the longer one.
func heartbeatPeriod(version string) time.Duration {
	major, minor, ok := majorMinor(version)
	if ok && (major < 6 || major == 6 && minor < 5) {
		return 5 * time.Second
	}
	return 10 * time.Second
}

// sidekiqVersion is info.version (written from Sidekiq 7 on), else the
// version in the process title ("sidekiq 6.4.1 app [0 of 5 busy]", set at
// each beat), else "".
func sidekiqVersion(p Process) string {
	if p.Heartbeat != nil && p.Heartbeat.Version != "" {
		return p.Heartbeat.Version
	}
	if words := strings.Fields(p.Cmdline); len(words) > 1 && words[0] == "sidekiq" {
		return words[1]
	}
	return ""
}

func majorMinor(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, errMajor := strconv.Atoi(parts[0])
	minor, errMinor := strconv.Atoi(parts[1])
	return major, minor, errMajor == nil && errMinor == nil
}

// Ready passes when the pod is live, Redis answers and no process is quiet.
// The sidecar's own quiet flag counts at once; Sidekiq's "quiet" field only
// turns true at its next heartbeat.
func Ready(s Snapshot, h History, r Rules) Verdict {
	if v := Live(s, h, r); !v.OK || v.Status == statusUnsupported {
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
