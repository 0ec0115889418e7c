package probeserver

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// The sidecar and Sidekiq under different UIDs, as under Pod Security
// "restricted": the kernel refuses the quiet signal (EPERM), and the sidecar
// must push it through Redis instead. This runs the real binary.
func TestBinary_PreStopFallsBackToRedisWhenTheSignalIsRefused(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	sk := p.sidekiq(testsidekiq.Options{Concurrency: 1, Credential: otherUID})
	if err := testsidekiq.Enqueue(p.ctx(), p.rdb, 6, "running"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the job to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 1 })

	probe := startSidecarAs(t, p, sidecarUID, testsidekiq.BuildProbe(t), "--max-job-seconds=40", "--heartbeat-timeout-seconds=10")
	logs := probe.Logs

	resp, err := http.Get(probe.Base + "/prestop")
	if err != nil {
		t.Fatal(err)
	}
	var v Verdict
	_ = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || v.Reason != "drained: no job running" {
		t.Errorf("/prestop = %d %+v", resp.StatusCode, v)
	}
	if done := testsidekiq.Done(p.ctx(), p.rdb); !slices.Contains(done, "running") {
		t.Errorf("/prestop returned before the job finished (done: %q)", done)
	}
	if !strings.Contains(logs.String(), "signal pushed through redis") {
		t.Errorf("the sidecar did not take the Redis fallback; log:\n%s", logs.String())
	}

	// SIGTERM to both, as a non-native sidecar gets it: the sidecar stays
	// until Sidekiq is gone, then exits.
	_ = probe.Signal(syscall.SIGTERM)
	_ = sk.Signal(syscall.SIGTERM)
	select {
	case <-sk.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("sidekiq still running 20 s after SIGTERM")
	}
	select {
	case <-probe.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("sidecar still running 10 s after Sidekiq exited")
	}
	if code := probe.ExitCode(); code != 0 {
		t.Errorf("sidecar exit code %d", code)
	}
}

// Sidekiq and the sidecar under two UIDs, as under Pod Security "restricted"
// when the pod does not say Sidekiq's: the kernel refuses the sidecar's
// signals to Sidekiq.
var (
	otherUID   = &syscall.Credential{Uid: 65534, Gid: 65534} // Sidekiq
	sidecarUID = &syscall.Credential{Uid: 65532, Gid: 65532}
)

// startSidecarAs runs the binary for pod p as user and waits for its
// /startupz to pass (it has found Sidekiq's heartbeat).
func startSidecarAs(t testing.TB, p *testPod, user *syscall.Credential, bin string, args ...string) *testsidekiq.Probe {
	t.Helper()
	probe := testsidekiq.StartProbeAs(t, user, bin, []string{"REDIS_URL=" + p.redis.URL},
		append([]string{"--proc-root=" + p.procDir, "--hostname=" + p.hostname}, args...)...)
	testkit.WaitFor(t, 10*time.Second, "the sidecar's /startupz", func() bool {
		code, _, err := probe.Get("/startupz", nil)
		return err == nil && code == http.StatusOK
	})
	return probe
}

func TestBinary_BadSettingExitsNamingIt(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(testsidekiq.BuildProbe(t), "--heartbeat-timeout-seconds=3")
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if !strings.Contains(string(out), "--heartbeat-timeout-seconds / SIDEKIQ_PROBE_HEARTBEAT_TIMEOUT_SECONDS") {
		t.Errorf("output %q does not name the setting", out)
	}
}

// A preStop that no termination follows (a stray call, a leftover quiet) must
// not leave a useless worker forever: the real binary fails /livez once the
// quiet outlived max-job-seconds + Sidekiq's shutdown timeout + the margin
// (1 + 1 + 15 s here), and a Sidekiq started again makes the pod ready.
func TestBinary_QuietOutlivingAnyTerminationFailsLivenessThenHeals(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	first := p.sidekiq(testsidekiq.Options{Concurrency: 1, Timeout: 1})
	probe := testsidekiq.StartProbe(t, testsidekiq.BuildProbe(t),
		[]string{"REDIS_URL=" + p.redis.URL, "SIDEKIQ_PROBE_PRESTOP_TOKEN=" + string(testToken)},
		"--proc-root="+p.procDir, "--hostname="+p.hostname, "--heartbeat-timeout-seconds=60",
		"--max-job-seconds=1", "--shutdown-timeout-seconds=1")
	get := func(path string, header http.Header) (int, string) {
		t.Helper()
		code, body, err := probe.Get(path, header)
		testkit.Must(t, err)
		return code, body
	}
	testkit.WaitFor(t, 15*time.Second, "/readyz", func() bool { c, _ := get("/readyz", nil); return c == http.StatusOK })
	if code, body := get("/prestop", http.Header{"X-Sidekiq-Probe-Token": {string(testToken)}}); code != http.StatusOK {
		t.Fatalf("/prestop = %d %s", code, body)
	}
	if code, body := get("/livez", nil); code != http.StatusOK {
		t.Errorf("/livez right after preStop = %d %s, want 200", code, body)
	}
	var body string
	testkit.WaitFor(t, 60*time.Second, "/livez to fail", func() bool {
		var code int
		code, body = get("/livez", nil)
		return code == http.StatusServiceUnavailable
	})
	if want := "longer than any termination takes (17s)"; !strings.Contains(body, want) {
		t.Errorf("/livez = %s, want a reason saying %q", body, want)
	}

	// The kubelet's restart: SIGTERM (Sidekiq is quiet and idle), a new one.
	testkit.Must(t, first.Signal(syscall.SIGTERM))
	<-first.Exited()
	p.sidekiq(testsidekiq.Options{Concurrency: 1, Timeout: 1})
	testkit.WaitFor(t, 30*time.Second, "/readyz after the restart", func() bool { c, _ := get("/readyz", nil); return c == http.StatusOK })
	if code, body := get("/livez", nil); code != http.StatusOK {
		t.Errorf("/livez after the restart = %d %s", code, body)
	}
	if logs := probe.Logs.String(); strings.Contains(logs, string(testToken)) || strings.Contains(logs, "no preStop token") {
		t.Errorf("the log shows the token or warns of none:\n%s", logs)
	}
}

// Without a token the sidecar works as before, but says at start that
// anyone may quiet Sidekiq.
func TestBinary_NoTokenWarnsAtStart(t *testing.T) {
	t.Parallel()
	probe := testsidekiq.StartProbe(t, testsidekiq.BuildProbe(t), []string{"REDIS_URL=unix:///nonexistent"},
		"--proc-root="+testsidekiq.PodProc(t), "--hostname=h")
	if logs := probe.Logs.String(); !strings.Contains(logs, "no preStop token") || !strings.Contains(logs, `"prestop_token":false`) {
		t.Errorf("no warning about the missing token:\n%s", logs)
	}
}
