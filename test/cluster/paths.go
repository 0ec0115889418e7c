package cluster

import (
	"errors"
	"os"
	"path/filepath"

	"sidekiq-probe.io/sidekiq-probe/internal/checkout"
)

// RepoRoot is the checkout the cluster's binaries and caches live in,
// found from the working directory, so tests, the CLI and `make` all find
// bin/ the same way.
func RepoRoot() (string, error) { return checkout.Root() }

// binaries are the programs the cluster runs, all built by `make node-tools`
// into bin/ except runc and the CNI plugins, which come from Debian.
type binaries struct {
	etcd, apiserver, controllerManager, scheduler, kubelet, kubectl string
	containerd, ctr                                                 string
}

func binaryPaths(root string) binaries {
	// By their real paths: teardown knows our processes by /proc/PID/exe,
	// which the kernel gives without the symlinks (a symlinked bin/, say).
	bin := filepath.Join(root, "bin")
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	k8s := filepath.Join(bin, "k8s")
	node := filepath.Join(bin, "node")
	return binaries{
		etcd:              filepath.Join(k8s, "etcd"),
		apiserver:         filepath.Join(k8s, "kube-apiserver"),
		controllerManager: filepath.Join(k8s, "kube-controller-manager"),
		scheduler:         filepath.Join(k8s, "kube-scheduler"),
		kubelet:           filepath.Join(k8s, "kubelet"),
		kubectl:           filepath.Join(k8s, "kubectl"),
		containerd:        filepath.Join(node, "containerd"),
		ctr:               filepath.Join(node, "ctr"),
	}
}

// check reports every binary that is missing, and how to get it.
func (b binaries) check() error {
	var missing []error
	for _, p := range []string{b.etcd, b.apiserver, b.controllerManager, b.scheduler, b.kubelet,
		b.kubectl, b.containerd, b.ctr, b.shim(),
		"/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return errors.Join(append([]error{errors.New("cluster: missing binaries, `make node-tools` builds and installs them")}, missing...)...)
	}
	return nil
}

func (b binaries) shim() string {
	return filepath.Join(filepath.Dir(b.containerd), "containerd-shim-runc-v2")
}
