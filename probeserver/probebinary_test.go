package probeserver

import (
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// probeBinary is the real sidecar binary serving a testPod's /proc view and
// Redis under UID 65532, as under Pod Security "restricted".
type probeBinary struct {
	base   string
	logs   *testkit.SyncBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// startProbeBinary runs bin (from testsidekiq.BuildProbe) with args added to
// the pod's settings, and waits for its /startupz to pass.
func startProbeBinary(t testing.TB, p *testPod, bin string, args ...string) *probeBinary {
	t.Helper()
	port := testkit.FreePort(t)
	b := &probeBinary{base: "http://127.0.0.1:" + strconv.Itoa(port), logs: &testkit.SyncBuffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command(bin, append([]string{"--port=" + strconv.Itoa(port), "--proc-root=" + p.procDir,
		"--hostname=" + p.hostname}, args...)...)
	b.cmd.Env = []string{"REDIS_URL=" + p.redis.URL}
	b.cmd.Stdout, b.cmd.Stderr = b.logs, b.logs
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	testkit.Must(t, b.cmd.Start())
	go func() { _ = b.cmd.Wait(); close(b.exited) }()
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.exited
		if t.Failed() {
			t.Logf("sidecar log:\n%s", b.logs.String())
		}
	})
	testkit.WaitFor(t, 10*time.Second, "the sidecar's /startupz", func() bool {
		resp, err := http.Get(b.base + "/startupz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return b
}

// otherUID runs Sidekiq under UID 65534, which the sidecar may not signal.
var otherUID = &syscall.Credential{Uid: 65534, Gid: 65534}
