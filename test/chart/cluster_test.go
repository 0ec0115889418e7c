package chart_test

import (
	"os"
	"path/filepath"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
)

// cluster is a real kube-apiserver (and etcd) that helm installs into.
type cluster struct {
	*testcontrolplane.ControlPlane
	kubeconfig string
}

// startCluster starts an API server for the test (the newest release unless
// an option says otherwise); it stops with the test.
func startCluster(t *testing.T, opts ...testcontrolplane.Option) *cluster {
	t.Helper()
	cp := testcontrolplane.Start(t, opts...)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, cp.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return &cluster{ControlPlane: cp, kubeconfig: kubeconfig}
}

// helm runs a helm command against the cluster, in the release namespace,
// and fails the test if it fails.
func (c *cluster) helm(t *testing.T, args ...string) {
	t.Helper()
	if out, err := helm(t, append(args, "--kubeconfig", c.kubeconfig, "--namespace", namespace)...); err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
}
