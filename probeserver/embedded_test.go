package probeserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// An embedded Sidekiq, found through Redis inside a process titled as Puma:
// the probes pass saying it is not supported (no restart loop, no web server
// taken out of its Service), /prestop fails at once without a signal or a
// push to its signals list, /metrics flags it, and once found a probe costs
// one round trip again.
func TestRealRedis_EmbeddedSidekiqIsNotSupported(t *testing.T) {
	for _, v := range []testsidekiq.Version{testsidekiq.Sidekiq73, testsidekiq.Sidekiq80, testsidekiq.Sidekiq81} {
		t.Run("Sidekiq "+v.Name, func(t *testing.T) {
			t.Parallel()
			var signals atomic.Int32
			p := startPod(t, podOptions{signal: func(int, syscall.Signal) error { signals.Add(1); return nil }})
			pid := standIn(t, p, "puma 6.4.2 (tcp://0.0.0.0:3000) [app]")
			b := testsidekiq.Beat{Hostname: p.hostname, PID: pid, StartedAt: time.Now(), Embedded: true,
				Jobs: []testsidekiq.Job{{Class: "A", RunAt: time.Now()}}}
			p.write(v, "", b)

			want := fmt.Sprintf("embedded Sidekiq (inside puma, pid %d) is not supported", pid)
			for _, path := range []string{"/startupz", "/livez", "/readyz"} {
				if a := p.get(path); a.code != http.StatusOK || a.verdict.Status != "unsupported" || !strings.Contains(a.verdict.Reason, want) {
					t.Errorf("%s = %d %+v, want 200 unsupported saying %q", path, a.code, a.verdict, want)
				}
			}
			testkit.Must(t, p.rdb.ConfigResetStat(p.ctx()).Err())
			p.get("/livez")
			if stats := commandStats(t, p); stats["sscan"] != 0 || stats["hmget"] != 1 {
				t.Errorf("a probe once the embedded Sidekiq is known ran %v, want one HMGET and no scan", stats)
			}

			if a := p.get("/prestop"); a.code != http.StatusServiceUnavailable || a.verdict.Status != "unsupported" {
				t.Errorf("/prestop = %d %+v, want 503 unsupported", a.code, a.verdict)
			}
			if n, pushed := signals.Load(), p.rdb.LLen(p.ctx(), b.Identity()+"-signals").Val(); n != 0 || pushed != 0 {
				t.Errorf("preStop sent %d signals and pushed %d, want none", n, pushed)
			}
			if a := p.get("/readyz"); a.code != http.StatusOK {
				t.Errorf("/readyz after preStop = %d %+v, want 200: nothing was quieted", a.code, a.verdict)
			}
			if m := p.getText("/metrics"); !strings.Contains(m, fmt.Sprintf(`sidekiq_probe_embedded{pid="%d"} 1`, pid)) {
				t.Errorf("/metrics does not flag the embedded Sidekiq:\n%s", m)
			}
		})
	}
}

// A hash of this pod's hostname that is not embedded, for a process that is
// not Sidekiq, changes nothing: the pod still has no Sidekiq.
func TestRealRedis_AnIdentityThatIsNotEmbeddedIsNoSidekiq(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	pid := standIn(t, p, "puma 6.4.2 (tcp://0.0.0.0:3000) [app]")
	p.write(testsidekiq.Sidekiq73, "", testsidekiq.Beat{Hostname: p.hostname, PID: pid, StartedAt: time.Now()})
	if a := p.get("/startupz"); a.code != http.StatusServiceUnavailable || !strings.Contains(a.verdict.Reason, "no sidekiq process") {
		t.Errorf("/startupz = %d %+v, want 503 no sidekiq process", a.code, a.verdict)
	}
}
