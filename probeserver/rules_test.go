package probeserver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

var t0 = time.Unix(1700000000, 0)

// proc is a process started at t0 whose last beat was beatAgo before now.
func proc(now time.Time, beatAgo time.Duration, quiet bool) Process {
	return Process{
		Process:   procfs.Process{PID: 7, Started: t0},
		Identity:  "worker-0:7:0123456789ab",
		Heartbeat: &Heartbeat{Beat: now.Add(-beatAgo), StartedAt: t0, Quiet: quiet},
	}
}

func noHeartbeat() Process {
	return Process{Process: procfs.Process{PID: 7, Started: t0}, Identity: "worker-0:7:0123456789ab"}
}

func TestRules(t *testing.T) {
	now := t0.Add(time.Hour)
	down := errors.New("dial unix: connection refused")
	rules := Rules{HeartbeatTimeout: 60 * time.Second}
	tests := map[string]struct {
		snap                 Snapshot
		hist                 History
		rules                Rules
		startup, live, ready bool
		reasonContains       string // in the first failing verdict of live, ready, startup
	}{
		"a fresh heartbeat passes everything": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, 3*time.Second, false)}},
			startup: true, live: true, ready: true,
		},
		"no Sidekiq process fails everything": {
			snap:           Snapshot{At: now},
			reasonContains: "no sidekiq process",
		},
		"a process before its first beat is live but not started nor ready": {
			snap:           Snapshot{At: t0.Add(5 * time.Second), Processes: []Process{noHeartbeat()}},
			live:           true,
			reasonContains: "no heartbeat yet",
		},
		"a heartbeat older than the timeout fails liveness": {
			snap:           Snapshot{At: now, Processes: []Process{proc(now, 73*time.Second, false)}},
			startup:        true,
			reasonContains: "heartbeat 1m13s old",
		},
		"a heartbeat just inside the timeout is live": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, 59*time.Second, false)}},
			startup: true, live: true, ready: true,
		},
		"an expired hash after the last seen beat fails liveness": {
			snap:           Snapshot{At: now, Processes: []Process{noHeartbeat()}},
			hist:           History{LastBeat: map[string]time.Time{"worker-0:7:0123456789ab": now.Add(-90 * time.Second)}},
			reasonContains: "no heartbeat for 1m30s",
		},
		"Redis unreachable keeps Sidekiq alive but not ready": {
			snap:           Snapshot{At: now, RedisErr: down, Processes: []Process{noHeartbeat()}},
			hist:           History{RedisDownSince: now.Add(-10 * time.Minute)},
			live:           true,
			reasonContains: "redis unreachable",
		},
		"a long outage fails liveness when asked to": {
			snap:           Snapshot{At: now, RedisErr: down, Processes: []Process{noHeartbeat()}},
			hist:           History{RedisDownSince: now.Add(-10 * time.Minute)},
			rules:          Rules{HeartbeatTimeout: time.Minute, RedisOutageRestartAfter: 5 * time.Minute},
			reasonContains: "redis unreachable for 10m0s, restart after 5m0s",
		},
		"a short outage stays live even when restarts are asked for": {
			snap:           Snapshot{At: now, RedisErr: down, Processes: []Process{noHeartbeat()}},
			hist:           History{RedisDownSince: now.Add(-time.Minute)},
			rules:          Rules{HeartbeatTimeout: time.Minute, RedisOutageRestartAfter: 5 * time.Minute},
			live:           true,
			reasonContains: "redis unreachable",
		},
		"after Redis comes back a stale heartbeat gets a full timeout": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, 80*time.Second, false)}},
			hist:    History{RedisBackAt: now.Add(-20 * time.Second)},
			startup: true, live: true, ready: true,
		},
		"after Redis comes back a heartbeat that does not resume fails": {
			snap:           Snapshot{At: now, Processes: []Process{proc(now, 150*time.Second, false)}},
			hist:           History{RedisBackAt: now.Add(-61 * time.Second)},
			startup:        true,
			reasonContains: "did not resume 1m1s after redis came back",
		},
		"the sidecar's own quiet drops readiness at once": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, time.Second, false)}},
			hist:    History{Quieted: true},
			startup: true, live: true,
			reasonContains: "preStop",
		},
		"a quiet that lasts as long as a termination may is still live": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, time.Second, true)}},
			hist:    History{Quieted: true, QuietSince: now.Add(-100 * time.Second)},
			rules:   Rules{HeartbeatTimeout: time.Minute, QuietLimit: 100 * time.Second},
			startup: true, live: true,
			reasonContains: "preStop",
		},
		"a quiet that outlives any termination fails liveness, saying so": {
			snap:           Snapshot{At: now, Processes: []Process{proc(now, time.Second, true)}},
			hist:           History{Quieted: true, QuietSince: now.Add(-101 * time.Second)},
			rules:          Rules{HeartbeatTimeout: time.Minute, QuietLimit: 100 * time.Second},
			startup:        true,
			reasonContains: "quiet since preStop 1m41s ago, longer than any termination takes (1m40s)",
		},
		"a quiet that outlives any termination fails liveness even while Redis is away": {
			snap:           Snapshot{At: now, RedisErr: down, Processes: []Process{noHeartbeat()}},
			hist:           History{Quieted: true, QuietSince: now.Add(-time.Hour), RedisDownSince: now.Add(-time.Minute)},
			rules:          Rules{HeartbeatTimeout: time.Minute, QuietLimit: 100 * time.Second},
			reasonContains: "longer than any termination takes",
		},
		"a quiet Sidekiq is live but not ready": {
			snap:    Snapshot{At: now, Processes: []Process{proc(now, time.Second, true)}},
			startup: true, live: true,
			reasonContains: "quiet",
		},
		"one stuck process of two fails the pod": {
			snap: Snapshot{At: now, Processes: []Process{proc(now, time.Second, false), func() Process {
				p := proc(now, 2*time.Minute, false)
				p.PID, p.Identity = 8, "worker-0:8:ba9876543210"
				return p
			}()}},
			startup:        true,
			reasonContains: "worker-0:8:ba9876543210",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := tc.rules
			if r.HeartbeatTimeout == 0 {
				r = rules
			}
			got := []Verdict{Startup(tc.snap), Live(tc.snap, tc.hist, r), Ready(tc.snap, tc.hist, r)}
			want := []bool{tc.startup, tc.live, tc.ready}
			for i, name := range []string{"startup", "live", "ready"} {
				if got[i].OK != want[i] {
					t.Errorf("%s = %+v, want ok=%v", name, got[i], want[i])
				}
			}
			var firstFail *Verdict
			for _, i := range []int{1, 2, 0} {
				if !got[i].OK && firstFail == nil {
					firstFail = &got[i]
				}
			}
			if tc.reasonContains != "" && firstFail != nil {
				if !strings.Contains(firstFail.Reason+" "+firstFail.Process, tc.reasonContains) {
					t.Errorf("first failure %+v does not mention %q", *firstFail, tc.reasonContains)
				}
			}
		})
	}
}

func TestHistory_Observe(t *testing.T) {
	now := t0.Add(time.Hour)
	down := Snapshot{At: now, RedisErr: errors.New("timeout")}
	h := History{}.Observe(down)
	if !h.RedisDownSince.Equal(now) {
		t.Fatalf("down since %v, want %v", h.RedisDownSince, now)
	}
	h = h.Observe(Snapshot{At: now.Add(time.Minute), RedisErr: errors.New("timeout")})
	if !h.RedisDownSince.Equal(now) {
		t.Errorf("a longer outage moved its start to %v", h.RedisDownSince)
	}
	back := now.Add(2 * time.Minute)
	h = h.Observe(Snapshot{At: back, Processes: []Process{proc(back, 70*time.Second, false)}})
	if !h.RedisDownSince.IsZero() || !h.RedisBackAt.Equal(back) {
		t.Errorf("after Redis answered: down since %v, back at %v", h.RedisDownSince, h.RedisBackAt)
	}
	if got := h.LastBeat["worker-0:7:0123456789ab"]; !got.Equal(back.Add(-70 * time.Second)) {
		t.Errorf("last beat %v", got)
	}
	later := h.Observe(Snapshot{At: back.Add(time.Second), Processes: []Process{noHeartbeat()}})
	if got := later.LastBeat["worker-0:7:0123456789ab"]; !got.Equal(back.Add(-70 * time.Second)) {
		t.Errorf("an expired hash lost the last beat: %v", got)
	}
}

// No accepted timeout fails a healthy process of any version, whose beat is
// at most one of its periods old (the longest measured, 11.34 s on 7/8 under
// CPU-bound jobs); every timeout fails a process that missed two beats, and
// the default fails it at the first probe after 60 s.
func TestLive_EveryAcceptedTimeoutFitsEveryVersion(t *testing.T) {
	now := t0.Add(time.Hour)
	for _, v := range testsidekiq.Versions {
		hb, err := parseHeartbeat(v.Hash(testsidekiq.Beat{Hostname: "worker-0", PID: 7, StartedAt: t0, At: now}))
		if err != nil {
			t.Fatal(err)
		}
		p := Process{Process: procfs.Process{PID: 7, Started: t0, Cmdline: v.Title("app", 0, 5)},
			Identity: "worker-0:7:0123456789ab", Heartbeat: hb}
		at := func(age time.Duration) Snapshot { return Snapshot{At: now.Add(age), Processes: []Process{p}} }
		for _, secs := range []int{MinHeartbeatTimeoutSeconds, 11, 15, 19, 20, 30, contract.DefaultHeartbeatTimeoutSeconds, 3600} {
			r := Rules{HeartbeatTimeout: time.Duration(secs) * time.Second}
			for age := time.Duration(0); age <= v.MaxPeriod(); age += 10 * time.Millisecond {
				if got := Live(at(age), History{}, r); !got.OK {
					t.Fatalf("Sidekiq %s, timeout %ds, beat %v old: %+v", v.Name, secs, age, got)
				}
			}
			missedTwo := 2*v.MaxPeriod() + time.Second
			if got := Live(at(max(missedTwo, r.HeartbeatTimeout+time.Millisecond)), History{}, r); got.OK {
				t.Errorf("Sidekiq %s, timeout %ds: live after two missed beats", v.Name, secs)
			}
		}
		def := Rules{HeartbeatTimeout: contract.DefaultHeartbeatTimeoutSeconds * time.Second}
		if got := Live(at(60*time.Second+time.Millisecond), History{}, def); got.OK {
			t.Errorf("Sidekiq %s: live with a beat just over the default 60 s", v.Name)
		}
	}
}

func TestTimeoutFor_TwoPeriodsOfTheVersion(t *testing.T) {
	tests := map[string]struct {
		version, title string
		want           time.Duration
	}{
		"Sidekiq 6.4 by its title":                      {title: "sidekiq 6.4.1 app [0 of 5 busy]", want: 10 * time.Second},
		"Sidekiq 6.5 by its title":                      {title: "sidekiq 6.5.12 app [0 of 5 busy]", want: 20 * time.Second},
		"Sidekiq 7 by info.version, whatever the title": {version: "7.3.10", title: "puma 6", want: 20 * time.Second},
		"Sidekiq 5 by its title":                        {title: "sidekiq 5.2.9 app [0 of 5 busy]", want: 10 * time.Second},
		"before the first beat the command is no title": {title: "bundle exec sidekiq -t 25", want: 20 * time.Second},
		"a title that is not a version":                 {title: "sidekiq app", want: 20 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Process{Process: procfs.Process{Cmdline: tc.title}}
			if tc.version != "" {
				p.Heartbeat = &Heartbeat{Version: tc.version}
			}
			if got := (Rules{HeartbeatTimeout: 10 * time.Second}).timeoutFor(p); got != tc.want {
				t.Errorf("timeoutFor = %v, want %v", got, tc.want)
			}
		})
	}
}
