package probeserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// Debian ships only Sidekiq 6.4, so these tests write the heartbeats each
// Sidekiq line writes (the fixtures of internal/testsidekiq, from the
// recorded facts) into real Redis, for a stand-in process that carries
// Sidekiq's title (a shell with argv[0] set to it, which traps TSTP and USR1
// as a booted Sidekiq does, so a drain may signal it).

func standIn(t testing.TB, p *testPod, title string) int {
	t.Helper()
	return testsidekiq.StandIn(t, p.procDir, title)
}

// fakeSidekiq starts a stand-in titled as v's Sidekiq and returns the beat
// it would write (started now, one "default" capsule of 5 threads); the
// caller adjusts the beat and writes it with p.write.
func (p *testPod) fakeSidekiq(v testsidekiq.Version, tag string) testsidekiq.Beat {
	p.t.Helper()
	pid := standIn(p.t, p, v.Title(tag, 0, 5))
	return testsidekiq.Beat{Hostname: p.hostname, PID: pid, Tag: tag, StartedAt: time.Now()}
}

func (p *testPod) write(v testsidekiq.Version, ns string, b testsidekiq.Beat) {
	p.t.Helper()
	if err := v.Write(p.ctx(), p.rdb, ns, b); err != nil {
		p.t.Fatal(err)
	}
}

// Every version's heartbeat, read from real Redis, passes the probes and
// shows its concurrency and running jobs on /metrics.
func TestRealRedis_EveryVersionsHeartbeat(t *testing.T) {
	for _, v := range testsidekiq.Versions {
		for _, ns := range []string{"", "myapp"} {
			if ns != "" && v.Name >= "7" {
				continue // redis-namespace was removed in Sidekiq 7
			}
			t.Run("Sidekiq "+v.Name+" namespace "+ns, func(t *testing.T) {
				t.Parallel()
				p := startPod(t, podOptions{namespace: ns})
				b := p.fakeSidekiq(v, "app")
				b.Capsules = map[string]int{"default": 3, "single": 1}
				b.Jobs = []testsidekiq.Job{{Class: "A", RunAt: time.Now()}, {Class: "B", RunAt: time.Now()}}
				p.write(v, ns, b)
				for _, path := range []string{"/startupz", "/livez", "/readyz"} {
					if a := p.get(path); a.code != http.StatusOK {
						t.Errorf("%s = %d %+v", path, a.code, a.verdict)
					}
				}
				metrics := p.getText("/metrics")
				for _, want := range []string{
					fmt.Sprintf(`sidekiq_probe_concurrency{pid="%d"} 4`, b.PID),
					fmt.Sprintf(`sidekiq_probe_busy_jobs{pid="%d"} 2`, b.PID),
				} {
					if !strings.Contains(metrics, want) {
						t.Errorf("/metrics lacks %s", want)
					}
				}
				capsule := fmt.Sprintf(`sidekiq_probe_capsule_concurrency{capsule="single",pid="%d"} 1`, b.PID)
				if has := slices.Contains(v.InfoKeys, "capsules"); strings.Contains(metrics, capsule) != has {
					t.Errorf("/metrics shows %s: %v, want %v (the version writes capsules: %v)", capsule, !has, has, has)
				}
			})
		}
	}
}

// The false 503 of issue 13: with the smallest accepted timeout (10 s), a
// healthy Sidekiq whose beat is as late as any measured (11.34 s under
// CPU-bound jobs on 7/8) stays live, and one that missed two beats fails,
// naming the timeout it was judged by.
func TestRealRedis_SmallestTimeoutFitsEveryVersion(t *testing.T) {
	for _, v := range testsidekiq.Versions {
		t.Run("Sidekiq "+v.Name, func(t *testing.T) {
			t.Parallel()
			// The sidecar's clock runs ahead of the beat by what each
			// step needs: a stand-in cannot have started in the past.
			var ahead atomic.Int64
			clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
			p := startPod(t, podOptions{heartbeatTimeout: MinHeartbeatTimeoutSeconds * time.Second, clock: clock})
			p.write(v, "", p.fakeSidekiq(v, ""))

			ahead.Store(int64(v.MaxPeriod()))
			if a := p.get("/livez"); a.code != http.StatusOK {
				t.Errorf("beat %v old: /livez = %d %+v, want 200", v.MaxPeriod(), a.code, a.verdict)
			}
			period := 10 * time.Second
			if v.Name == testsidekiq.Sidekiq64.Name {
				period = 5 * time.Second
			}
			ahead.Store(int64(2*period + time.Second))
			a := p.get("/livez")
			if want := fmt.Sprintf("(timeout %v)", 2*period); a.code != http.StatusServiceUnavailable || !strings.Contains(a.verdict.Reason, want) {
				t.Errorf("two beats missed: /livez = %d %+v, want 503 saying %s", a.code, a.verdict, want)
			}
		})
	}
}

// A stale identity of an earlier process with the same hostname and pid (a
// restarted pod with a stable name) must not stand in for the live process.
func TestRealRedis_ReusedPidIgnoresTheOlderProcessHash(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	b := p.fakeSidekiq(testsidekiq.Sidekiq64, "app")
	b.Nonce, b.StartedAt = "0ld0ld0ld0ld", time.Now().Add(-time.Hour)
	p.write(testsidekiq.Sidekiq64, "", b)
	if a := p.get("/startupz"); a.code != http.StatusServiceUnavailable || a.verdict.Reason != "no heartbeat yet" {
		t.Errorf("/startupz = %d %+v, want 503: the only hash predates the process", a.code, a.verdict)
	}
}
