// Package hostile runs the real binaries against hostile input: what anyone
// on the pod network, or anyone who may write to Redis, can send them. Each
// case is a named table row; each logs its figures (memory, latency).
package hostile

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
	"sidekiq-probe.io/sidekiq-probe/probeserver"
)

// sidecarToken is the pod's preStop token in these tests.
const sidecarToken = "f00dfeedcafe0123456789abcdef0123"

// sidecarLimitKiB is the memory limit the webhook gives the sidecar (32Mi).
const sidecarLimitKiB = 32 << 10

// sidecarPod is one pod: a real redis-server, the pod's /proc view with a
// real Sidekiq 6.4.1 in it, and the real sidecar binary.
type sidecarPod struct {
	t        *testing.T
	rdb      *redis.Client
	redisURL string
	procDir  string
	hostname string
	sidekiq  *testsidekiq.Sidekiq
	identity string // Sidekiq's, once it beat
	probe    *testsidekiq.Probe
}

// sidecarStartPod starts Redis and Sidekiq and waits for Sidekiq's first
// heartbeat; the sidecar is started by run, so a test can spoil Redis first.
func sidecarStartPod(t *testing.T) *sidecarPod {
	t.Helper()
	r := testsidekiq.StartRedis(t)
	p := &sidecarPod{t: t, rdb: r.Client(), redisURL: r.URL, procDir: testsidekiq.PodProc(t),
		hostname: "pod-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-", ",", "").Replace(t.Name()))}
	t.Cleanup(func() { p.rdb.Close() })
	p.sidekiq = testsidekiq.StartSidekiq(t, testsidekiq.Options{RedisURL: r.URL, Hostname: p.hostname, Concurrency: 1, Timeout: 1})
	testsidekiq.AddToPodProc(t, p.procDir, p.sidekiq.PID)
	p.identity = p.sidekiq.WaitHeartbeat(t, p.rdb, 60*time.Second)
	return p
}

// run starts the sidecar binary bin for the pod, with the token, and waits
// until it answers.
func (p *sidecarPod) run(bin string, args ...string) {
	p.t.Helper()
	env := []string{"REDIS_URL=" + p.redisURL, contract.EnvPreStopToken + "=" + sidecarToken}
	p.probe = testsidekiq.StartProbe(p.t, bin, env,
		append([]string{"--proc-root=" + p.procDir, "--hostname=" + p.hostname}, args...)...)
}

// get asks path as the kubelet does and says how long the answer took.
func (p *sidecarPod) get(path string, header http.Header) (code int, body string, took time.Duration) {
	p.t.Helper()
	start := time.Now()
	code, body, err := p.probe.Get(path, header)
	took = time.Since(start)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	return code, body, took
}

// waitFor polls path until it answers code, and returns the last body.
func (p *sidecarPod) waitFor(path string, code int, within time.Duration) string {
	p.t.Helper()
	var body string
	testkit.WaitFor(p.t, within, fmt.Sprintf("%s to answer %d", path, code), func() bool {
		c, b, err := p.probe.Get(path, nil)
		body = b
		return err == nil && c == code
	})
	return body
}

// rssKiB is the sidecar's resident memory now and at its peak.
func (p *sidecarPod) rssKiB() (now, peak int) {
	return testkit.StatusKiB(p.t, p.probe.PID, "VmRSS"), testkit.StatusKiB(p.t, p.probe.PID, "VmHWM")
}

func TestSidecar_PreStop(t *testing.T) {
	bin := testsidekiq.BuildProbe(t)
	tests := map[string]struct {
		args   []string
		header http.Header
		code   int
		reason string
		// then checks what follows the answer.
		then func(t *testing.T, p *sidecarPod)
	}{
		"without a token it is refused and Sidekiq keeps processing jobs": {
			code: http.StatusForbidden, reason: "forbidden: missing token", then: sidecarKeepsWorking,
		},
		"with a wrong token it is refused and Sidekiq keeps processing jobs": {
			header: http.Header{contract.HeaderPreStopToken: {"f00dfeedcafe0123456789abcdef0124"}},
			code:   http.StatusForbidden, reason: "forbidden: wrong token", then: sidecarKeepsWorking,
		},
		"with the right token it drains and queued jobs wait": {
			header: http.Header{contract.HeaderPreStopToken: {sidecarToken}},
			code:   http.StatusOK, reason: "drained: no job running", then: sidecarStopsWorking,
		},
		"a quiet no termination follows fails /livez once it outlived any termination": {
			args:   []string{"--max-job-seconds=1", "--shutdown-timeout-seconds=1"},
			header: http.Header{contract.HeaderPreStopToken: {sidecarToken}},
			code:   http.StatusOK, reason: "max-job-seconds passed",
			then: func(t *testing.T, p *sidecarPod) {
				// 1 + 1 + 15 s; a bound far above it.
				body := p.waitFor(contract.PathLive, http.StatusServiceUnavailable, 60*time.Second)
				if !strings.Contains(body, "longer than any termination takes (17s)") {
					t.Errorf("/livez = %s, want the quiet named as the reason", body)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := sidecarStartPod(t)
			p.run(bin, tc.args...)
			p.waitFor(contract.PathReady, http.StatusOK, 30*time.Second)
			code, body, took := p.get(contract.PathPreStop, tc.header)
			t.Logf("figures: /prestop answered %d in %v", code, took.Round(time.Millisecond))
			if code != tc.code || !strings.Contains(body, tc.reason) {
				t.Fatalf("/prestop = %d %s, want %d with %q", code, body, tc.code, tc.reason)
			}
			tc.then(t, p)
			if strings.Contains(p.probe.Logs.String(), sidecarToken[:16]) {
				t.Errorf("the sidecar's log shows the token")
			}
		})
	}
}

// sidecarKeepsWorking: still ready, and a job enqueued now runs.
func sidecarKeepsWorking(t *testing.T, p *sidecarPod) {
	if code, body, _ := p.get(contract.PathReady, nil); code != http.StatusOK {
		t.Errorf("/readyz after a refused preStop = %d %s", code, body)
	}
	testkit.Must(t, testsidekiq.Enqueue(context.Background(), p.rdb, 0.1, "after"))
	testkit.WaitFor(t, 30*time.Second, "the job enqueued after the refused preStop to run", func() bool {
		return slices.Contains(testsidekiq.Done(context.Background(), p.rdb), "after")
	})
}

// sidecarStopsWorking: not ready, and a job enqueued now stays queued.
func sidecarStopsWorking(t *testing.T, p *sidecarPod) {
	if code, body, _ := p.get(contract.PathReady, nil); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the drain = %d %s, want 503", code, body)
	}
	testkit.Must(t, testsidekiq.Enqueue(context.Background(), p.rdb, 0.1, "after"))
	time.Sleep(3 * time.Second) // Sidekiq fetches within a second when it fetches at all
	if started := testsidekiq.Started(context.Background(), p.rdb); len(started) != 0 {
		t.Errorf("jobs started after the drain: %q", started)
	}
}

// Connections anyone on the pod network can open: they must not take the
// sidecar past its memory limit, and the kubelet's next probe must still be
// answered.
func TestSidecar_Connections(t *testing.T) {
	bin := testsidekiq.BuildProbe(t)
	tests := map[string]struct {
		send      string        // what each connection sends, then it stays open
		answersIn time.Duration // a generous bound for the next probe's answer
	}{
		"1,000 idle keep-alive connections, one request each": {
			send: "GET /livez HTTP/1.1\r\nHost: pod\r\n\r\n", answersIn: 5 * time.Second,
		},
		// The cap closes new connections while 64 wait for their headers;
		// the header timeout frees them.
		"1,000 connections that send half a request and stall": {
			send: "GET /livez HTTP/1.1\r\nHost: pod\r\n", answersIn: 15 * time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := sidecarStartPod(t)
			p.run(bin)
			p.waitFor(contract.PathLive, http.StatusOK, 30*time.Second)
			idle, _ := p.rssKiB()
			conns := sidecarOpen(t, strings.TrimPrefix(p.probe.Base, "http://"), 1000, tc.send)
			time.Sleep(3 * time.Second) // let the sidecar take them in, below its 5 s idle timeout
			during, peak := p.rssKiB()
			fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.probe.PID))
			testkit.Must(t, err)
			start := time.Now()
			p.waitFor(contract.PathLive, http.StatusOK, tc.answersIn)
			t.Logf("figures: %d connections opened, %d descriptors open in the sidecar; RSS idle %.1f MiB, with them %.1f MiB, peak %.1f MiB; next /livez answered after %v",
				conns, len(fds), float64(idle)/1024, float64(during)/1024, float64(peak)/1024, time.Since(start).Round(time.Millisecond))
			if peak >= sidecarLimitKiB {
				t.Errorf("peak RSS %d KiB, over the 32Mi limit", peak)
			}
			// 64 connections and a few dozen of its own (the listener, Redis,
			// stdio, the runtime's); without the cap it held every one.
			if len(fds) > 100 {
				t.Errorf("the sidecar holds %d descriptors: the connection cap did not hold", len(fds))
			}
		})
	}
}

// sidecarOpen opens n connections to addr, each sending send, and keeps them
// open until the test ends. It returns how many it could open.
func sidecarOpen(t *testing.T, addr string, n int, send string) int {
	t.Helper()
	opened := 0
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			continue
		}
		t.Cleanup(func() { c.Close() })
		_, _ = c.Write([]byte(send))
		opened++
	}
	return opened
}

// What anyone who may write to Redis can put there: the probes must answer
// within 1 s (the injected probes' timeout) and judge Sidekiq, not Redis.
func TestSidecar_RedisData(t *testing.T) {
	bin := testsidekiq.BuildProbe(t)
	tests := map[string]struct {
		// spoil changes Redis, before the sidecar starts unless after.
		spoil func(t *testing.T, p *sidecarPod)
		after bool
		// want are the answers the probes settle on.
		want map[string]int
		// reason is in the answer of the first path of wantReason.
		wantReason, reason string
	}{
		"Sidekiq's process hash padded with 200k fields": {
			spoil: func(t *testing.T, p *sidecarPod) { sidecarFill(t, p, "HSET", p.identity, 200_000) },
			want:  map[string]int{contract.PathStartup: 200, contract.PathLive: 200, contract.PathReady: 200},
		},
		"a processes set of 400k members": {
			spoil: func(t *testing.T, p *sidecarPod) { sidecarFill(t, p, "SADD", "processes", 400_000) },
			want:  map[string]int{contract.PathStartup: 200, contract.PathLive: 200, contract.PathReady: 200},
		},
		// Sidekiq's next beats fail on it (WRONGTYPE inside its MULTI), and
		// its EXPIRE keeps the string alive: a Sidekiq that cannot beat.
		"Sidekiq's process hash replaced by a string": {
			spoil: func(t *testing.T, p *sidecarPod) {
				testkit.Must(t, p.rdb.Set(context.Background(), p.identity, "spoiled", time.Minute).Err())
			},
			want:       map[string]int{contract.PathStartup: 503, contract.PathLive: 200, contract.PathReady: 503},
			wantReason: contract.PathReady, reason: "no heartbeat yet",
		},
		"Sidekiq's process hash replaced by a string once the sidecar knows it": {
			spoil: func(t *testing.T, p *sidecarPod) {
				testkit.Must(t, p.rdb.Set(context.Background(), p.identity, "spoiled", time.Minute).Err())
			},
			after:      true,
			want:       map[string]int{contract.PathStartup: 503, contract.PathLive: 503, contract.PathReady: 503},
			wantReason: contract.PathLive, reason: "no heartbeat for",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := sidecarStartPod(t)
			if !tc.after {
				tc.spoil(t, p)
			}
			// 10 s: the shortest Sidekiq 6.4's beat every 5 s allows.
			p.run(bin, "--heartbeat-timeout-seconds=10")
			if tc.after {
				p.waitFor(contract.PathReady, http.StatusOK, 30*time.Second)
				tc.spoil(t, p)
			}
			for path, code := range tc.want {
				body := p.waitFor(path, code, 30*time.Second)
				if path == tc.wantReason && !strings.Contains(body, tc.reason) {
					t.Errorf("%s = %s, want %q", path, body, tc.reason)
				}
			}
			var slowest time.Duration
			for range 10 {
				for _, path := range []string{contract.PathStartup, contract.PathLive, contract.PathReady} {
					code, body, took := p.get(path, nil)
					slowest = max(slowest, took)
					if code != tc.want[path] {
						t.Errorf("%s = %d %s, want %d", path, code, body, tc.want[path])
					}
				}
			}
			_, metrics, _ := p.get(probeserver.PathMetrics, nil)
			_, peak := p.rssKiB()
			t.Logf("figures: slowest of 30 probes %v; sidecar peak RSS %.1f MiB", slowest.Round(time.Millisecond), float64(peak)/1024)
			if slowest >= time.Second {
				t.Errorf("a probe took %v, past the kubelet's 1 s timeout", slowest)
			}
			if !strings.Contains(metrics, "sidekiq_probe_redis_up 1") {
				t.Errorf("/metrics does not say Redis is up")
			}
		})
	}
}

// sidecarFill adds n members or fields to key with cmd (SADD, HSET), in
// batches.
func sidecarFill(t *testing.T, p *sidecarPod, cmd, key string, n int) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 10_000 {
		args := []any{cmd, key}
		for i := start; i < min(start+10_000, n); i++ {
			if cmd == "HSET" {
				args = append(args, fmt.Sprintf("pad-%d", i), "x")
			} else {
				args = append(args, fmt.Sprintf("other-pod-%d:1:0123456789ab", i))
			}
		}
		testkit.Must(t, p.rdb.Do(ctx, args...).Err())
	}
}
