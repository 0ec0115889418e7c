package testcontrolplane

import (
	"path/filepath"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// Release is a Kubernetes release the tests run on: the version its API
// server reports and the folder of bin/ the Makefile builds it into.
type Release struct {
	Version string
	binDir  string
}

// The two ends of the range the chart accepts. The Makefile's K8S_VERSION
// and K8S_OLDEST_VERSION build them; Start fails when a binary reports
// another version, so the names cannot drift from what was tested.
var (
	// Newest is the release every API-server test runs on.
	Newest = Release{Version: "v1.37.2", binDir: "k8s"}
	// Oldest is the oldest release the chart's kubeVersion accepts; the
	// e2e tests (test/e2e) run on it too.
	Oldest = Release{Version: "v1.30.14", binDir: "k8s-1.30"}
)

// Releases are the releases the chart's whole range is proven on, oldest
// first.
func Releases() []Release { return []Release{Oldest, Newest} }

// Option changes what Start runs.
type Option func(*options)

type options struct {
	release *Release
}

// WithRelease runs r's kube-apiserver and etcd (and r's
// kube-controller-manager in StartControllerManager) instead of AssetsDir's,
// and fails the test unless the API server reports r.Version.
func WithRelease(r Release) Option {
	return func(o *options) { o.release = &r }
}

// dir is the folder of r's binaries; it fails the test when one is missing.
func (r Release) dir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(testkit.RepoRoot(t), "bin", r.binDir)
	requireBinaries(t, dir)
	return dir
}

// check fails the test unless cp's API server is r.
func (r Release) check(t testing.TB, cp *ControlPlane) {
	t.Helper()
	v, err := cp.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("the API server's version: %v", err)
	}
	if v.GitVersion != r.Version {
		t.Fatalf("the API server in %s reports %s, want %s: remove that folder and run `make tools` (it builds only missing binaries)",
			r.dir(t), v.GitVersion, r.Version)
	}
}
