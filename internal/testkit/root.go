package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/checkout"
)

// RepoRoot is the module root, found from the working directory (see
// package checkout).
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := checkout.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// GoBuild builds the module's package pkg (e.g. "./cmd/sidekiq-probe") into
// out, static like the release binaries. It returns an error rather than
// failing a test, so that a build shared through sync.Once can report it to
// every test that waits for it.
func GoBuild(out, pkg string, flags ...string) error {
	root, err := checkout.Root()
	if err != nil {
		return err
	}
	args := append([]string{"build", "-trimpath"}, flags...)
	cmd := exec.Command("go", append(args, "-o", out, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, output)
	}
	return nil
}
