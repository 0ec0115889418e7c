// Package testcontrolplane starts a real kube-apiserver backed by a real etcd
// for tests, through controller-runtime's envtest. The binaries are the ones
// `make tools` builds from hack/k8s-tools into bin/k8s/, and for the oldest
// release the chart accepts from hack/k8s-tools-1.30 into bin/k8s-1.30/.
// Tests of production packages use it, so it lives under internal/.
package testcontrolplane

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// ControlPlane is a running API server.
type ControlPlane struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	Client kubernetes.Interface
	// KubeConfig is Config as a kubeconfig file's content, for kubectl.
	KubeConfig []byte
	// assets is the folder the binaries came from; kube-controller-manager
	// is taken from the same one.
	assets string
}

// Start runs a fresh API server and etcd for the test and stops both when the
// test ends. Without options they are AssetsDir's; WithRelease picks another.
func Start(t testing.TB, opts ...Option) *ControlPlane {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := AssetsDir(t)
	if o.release != nil {
		dir = o.release.dir(t)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver and etcd: %v", err)
		}
	})
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client for the test API server: %v", err)
	}
	cp := &ControlPlane{Config: cfg, Client: client, KubeConfig: env.KubeConfig, assets: dir}
	if o.release != nil {
		o.release.check(t, cp)
	}
	return cp
}

// AssetsDir is the folder holding kube-apiserver, etcd and
// kube-controller-manager: KUBEBUILDER_ASSETS when set, else bin/k8s at the
// root of the repository. It fails the test when a binary is missing.
func AssetsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(testkit.RepoRoot(t), "bin", "k8s")
	}
	requireBinaries(t, dir)
	return dir
}

// requireBinaries fails the test unless dir holds kube-apiserver and etcd.
func requireBinaries(t testing.TB, dir string) {
	t.Helper()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s missing in %s: run `make deps` (it builds the control plane with `make tools`)", name, dir)
		}
	}
}
