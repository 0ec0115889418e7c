package testsidekiq

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// PodProc makes a /proc view holding only the given pids (as links into the
// real /proc) and the boot time: what a pod with a shared PID namespace shows.
// Tests running side by side then see only their own Sidekiq processes.
// The view is readable by every user, for a sidecar run under another UID.
func PodProc(t testing.TB, pids ...int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "podproc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/stat", filepath.Join(dir, "stat")); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		AddToPodProc(t, dir, pid)
	}
	return dir
}

// AddToPodProc links one more pid into a PodProc view.
func AddToPodProc(t testing.TB, dir string, pid int) {
	t.Helper()
	p := strconv.Itoa(pid)
	if err := os.Symlink(filepath.Join("/proc", p), filepath.Join(dir, p)); err != nil {
		t.Fatal(err)
	}
}

// BuildProbe builds cmd/sidekiq-probe into a temporary directory that every
// user may read, for a sidecar run under another UID.
func BuildProbe(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sidekiq-probe-bin")
	testkit.Must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "sidekiq-probe")
	testkit.Must(t, testkit.GoBuild(bin, "./cmd/sidekiq-probe"))
	return bin
}

func need(t testing.TB, program string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s not found: run `make deps` (hack/install-deps.sh installs it)", program)
	}
}

// StandIn starts a process titled title (argv[0]) in the PodProc view dir
// and returns its pid: what a Sidekiq of a version Debian does not package
// (written into Redis with a fixture) or a host server looks like in /proc.
// It traps TSTP and USR1, as a booted Sidekiq does. Killed at cleanup.
func StandIn(t testing.TB, dir, title string) int {
	t.Helper()
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{title, "-c", "trap : TSTP USR1; while :; do sleep 1; done"}}
	testkit.Must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	AddToPodProc(t, dir, cmd.Process.Pid)
	return cmd.Process.Pid
}
