package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// kubectl runs the real kubectl (bin/k8s/kubectl, built by `make
// node-tools`) against the test's API server as a cluster admin, in dir,
// and returns what it printed on each stream. A non-zero exit is err.
func (in *installed) kubectl(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := filepath.Join(testkit.RepoRoot(t), "bin", "k8s", "kubectl")
	if _, statErr := os.Stat(bin); statErr != nil {
		t.Fatalf("kubectl is missing (%v): run `make node-tools`, it builds kubectl into bin/k8s/", statErr)
	}
	// Its own discovery cache, so nothing is read from or left in $HOME.
	cmd := exec.Command(bin, append([]string{"--kubeconfig=" + in.admin, "--cache-dir=" + t.TempDir()}, args...)...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// goldenFile is a file of the webhook's golden cases (webhook/testdata).
func goldenFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "webhook", "testdata", name))
	testkit.Must(t, err)
	return b
}
