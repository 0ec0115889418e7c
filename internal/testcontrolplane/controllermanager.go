package testcontrolplane

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// StartControllerManager runs kube-controller-manager against cp with the
// controllers that turn a Deployment into pods, and the extra ones named
// (e.g. validatingadmissionpolicy-status-controller, which type-checks
// validating policies), until the test ends. Its output is logged when the
// test fails.
func (cp *ControlPlane) StartControllerManager(t testing.TB, extra ...string) {
	t.Helper()
	bin := filepath.Join(cp.assets, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kube-controller-manager missing in %s: run `make deps`", filepath.Dir(bin))
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, cp.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--kubeconfig="+kubeconfig,
		"--controllers="+strings.Join(append([]string{"deployment-controller", "replicaset-controller"}, extra...), ","),
		"--leader-elect=false",
		"--secure-port=0", // no health endpoint needed; nothing else may take a port
	)
	var out testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kube-controller-manager: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("kube-controller-manager output:\n%s", out.String())
		}
	})
}
