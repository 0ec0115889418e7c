package probeserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

const testToken = Secret("0123456789abcdef0123456789abcdef")

// quietingStandIn is a stand-in Sidekiq in p whose "quiet signal" writes a
// quiet heartbeat, as Sidekiq does at its next beat. It returns how many
// signals it got.
func quietingStandIn(t *testing.T, p *testPod, signals *atomic.Int32) {
	t.Helper()
	beat := p.fakeSidekiq(testsidekiq.Sidekiq64, "app")
	p.write(testsidekiq.Sidekiq64, "", beat)
	p.srv.signal = func(int, syscall.Signal) error {
		signals.Add(1)
		beat.Quiet = true
		return testsidekiq.Sidekiq64.Write(p.ctx(), p.rdb, "", beat)
	}
}

func (p *testPod) serve(path string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header = header
	w := httptest.NewRecorder()
	p.srv.Handler().ServeHTTP(w, req)
	return w
}

func TestPreStop_Token(t *testing.T) {
	tests := map[string]struct {
		tokens     []string // X-Sidekiq-Probe-Token headers sent
		code       int
		reason     string
		refusedAs  string // the refusal metric's reason label
		quietsPods bool
	}{
		"no header is refused and quiets nothing": {
			code: http.StatusForbidden, reason: "forbidden: missing token in X-Sidekiq-Probe-Token", refusedAs: "missing token",
		},
		"a wrong token is refused": {
			tokens: []string{"0123456789abcdef0123456789abcdeX"},
			code:   http.StatusForbidden, reason: "forbidden: wrong token", refusedAs: "wrong token",
		},
		"a prefix of the token is refused": {
			tokens: []string{string(testToken[:16])},
			code:   http.StatusForbidden, reason: "forbidden: wrong token", refusedAs: "wrong token",
		},
		"the right token sent twice is refused": {
			tokens: []string{string(testToken), string(testToken)},
			code:   http.StatusForbidden, reason: "forbidden: wrong token", refusedAs: "wrong token",
		},
		"the right token drains": {
			tokens: []string{string(testToken)},
			code:   http.StatusOK, reason: "drained: no job running", quietsPods: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &testkit.SyncBuffer{}
			p := startPod(t, podOptions{token: testToken, log: slog.New(slog.NewJSONHandler(logs, nil))})
			var signals atomic.Int32
			quietingStandIn(t, p, &signals)
			header := http.Header{}
			for _, tok := range tc.tokens {
				header.Add(contract.HeaderPreStopToken, tok)
			}
			w := p.serve(contract.PathPreStop, header)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.reason) || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("/prestop = %d %s, want %d with %q", w.Code, w.Body, tc.code, tc.reason)
			}
			if got := signals.Load() > 0; got != tc.quietsPods {
				t.Errorf("Sidekiq signalled: %v, want %v", got, tc.quietsPods)
			}
			if ready := p.serve(contract.PathReady, nil).Code == http.StatusOK; ready == tc.quietsPods {
				t.Errorf("/readyz ready = %v after the call, want %v", ready, !tc.quietsPods)
			}
			metrics := p.serve(PathMetrics, nil).Body.String()
			if tc.refusedAs != "" && !strings.Contains(metrics, `sidekiq_probe_prestop_refused_total{reason="`+tc.refusedAs+`"} 1`) {
				t.Errorf("/metrics does not count the refusal as %q:\n%s", tc.refusedAs, metrics)
			}
			if strings.Contains(logs.String(), string(testToken[:16])) {
				t.Errorf("the log shows the token:\n%s", logs)
			}
		})
	}
}

// The probes stay open with a token; only /prestop asks for it.
func TestPreStop_TokenLeavesProbesOpen(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{token: testToken})
	var signals atomic.Int32
	quietingStandIn(t, p, &signals)
	for _, path := range []string{contract.PathStartup, contract.PathLive, contract.PathReady, PathMetrics} {
		if w := p.serve(path, nil); w.Code != http.StatusOK {
			t.Errorf("%s = %d %s, want 200 without a token", path, w.Code, w.Body)
		}
	}
}

// A scan sends many refused calls: each is counted, but the log gets one line
// a minute, which says how many it left out.
func TestPreStop_RefusalsLogOneLineAMinute(t *testing.T) {
	t.Parallel()
	logs := &testkit.SyncBuffer{}
	clock := testkit.NewFakeClock(time.Now())
	p := startPod(t, podOptions{token: testToken, clock: clock.Now, log: slog.New(slog.NewJSONHandler(logs, nil))})
	for range 500 {
		p.serve(contract.PathPreStop, http.Header{contract.HeaderPreStopToken: {"not-the-token-0123456789"}})
	}
	clock.Add(time.Minute)
	p.serve(contract.PathPreStop, nil)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"refused_since_last_log":499`) {
		t.Errorf("log after 501 refusals, a minute apart at the end:\n%s\nwant 2 lines, the second counting 499 left out", logs)
	}
	metrics := p.serve(PathMetrics, nil).Body.String()
	if !strings.Contains(metrics, `sidekiq_probe_prestop_refused_total{reason="wrong token"} 500`) ||
		!strings.Contains(metrics, `sidekiq_probe_prestop_refused_total{reason="missing token"} 1`) {
		t.Errorf("/metrics does not count every refusal")
	}
}

// A quiet that outlasts max-job-seconds + Sidekiq's shutdown timeout + the
// margin is no termination: liveness fails, saying so, and once Sidekiq is
// started again the pod is live and ready.
func TestLive_QuietOutlivingAnyTerminationFails(t *testing.T) {
	t.Parallel()
	clock := testkit.NewFakeClock(time.Now())
	p := startPod(t, podOptions{clock: clock.Now, heartbeatTimeout: time.Hour, maxJobTime: 2 * time.Second, shutdownTimeout: 3 * time.Second})
	var signals atomic.Int32
	quietingStandIn(t, p, &signals)
	if w := p.serve(contract.PathPreStop, nil); w.Code != http.StatusOK {
		t.Fatalf("/prestop = %d %s", w.Code, w.Body)
	}
	limit := (2 + 3 + contract.GraceMarginSeconds) * time.Second
	clock.Add(limit)
	if w := p.serve(contract.PathLive, nil); w.Code != http.StatusOK {
		t.Errorf("/livez %v after preStop = %d %s, want 200: a termination may take that long", limit, w.Code, w.Body)
	}
	clock.Add(time.Second)
	w := p.serve(contract.PathLive, nil)
	if want := "quiet since preStop 21s ago, longer than any termination takes (20s)"; w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), want) {
		t.Errorf("/livez %v after preStop = %d %s, want 503 saying %q", limit+time.Second, w.Code, w.Body, want)
	}

	// The kubelet restarts Sidekiq: a process the drain never saw.
	beat := p.fakeSidekiq(testsidekiq.Sidekiq64, "app")
	beat.Nonce = "ba9876543210"
	p.write(testsidekiq.Sidekiq64, "", beat)
	if w := p.serve(contract.PathLive, nil); w.Code != http.StatusOK {
		t.Errorf("/livez after Sidekiq started again = %d %s", w.Code, w.Body)
	}
}
