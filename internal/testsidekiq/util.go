package testsidekiq

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// RepoRoot finds the module root from the working directory (a test runs in
// its package's folder; -trimpath hides source paths from runtime.Caller).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

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

// BuildProbe builds cmd/sidekiq-probe into a temporary directory.
func BuildProbe(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sidekiq-probe-bin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "sidekiq-probe")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/sidekiq-probe")
	cmd.Dir = RepoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sidekiq-probe: %v\n%s", err, out)
	}
	return bin
}

func need(t testing.TB, program string) {
	t.Helper()
	if _, err := exec.LookPath(program); err != nil {
		t.Fatalf("%s not found: run `make deps` (hack/install-deps.sh installs it)", program)
	}
}

// waitFor polls cond until it holds, failing the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitFor is waitFor for callers: poll cond every 100 ms up to within.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	waitFor(t, within, what, cond)
}
