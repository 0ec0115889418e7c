package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Helm runs the real helm (bin/helm, built by `make deps`) with args and
// returns its standard output; it fails the test when helm fails.
func Helm(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := RunHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunHelm runs helm as Helm does, for tests that expect it to fail: the
// error holds helm's standard error, and the standard output is returned
// either way. Its homes are the test's own, and no kubeconfig is read unless
// args name one. A missing helm fails the test.
func RunHelm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	helm := filepath.Join(RepoRoot(t), "bin", "helm")
	if _, err := os.Stat(helm); err != nil {
		t.Fatalf("helm is missing (%v): run `make deps`, it builds helm into bin/", err)
	}
	home := t.TempDir()
	cmd := exec.Command(helm, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home,
		"KUBECONFIG="+filepath.Join(home, "none"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("helm %s: %v: %s", args[0], err, stderr.Bytes())
	}
	return out, nil
}
