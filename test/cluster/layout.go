package cluster

import "path/filepath"

// Fixed network settings: one bridge on a private subnet that exists only on
// this machine. The node's address is the bridge's own, so pods reach the
// API server and the kubelet at nodeIP without any route leaving the host.
const (
	bridgeName = "cni0"
	podSubnet  = "10.88.0.0/16"
	nodeIP     = "10.88.0.1"
	nodeName   = "sidekiq-probe-node"
	// serviceRange gets no routes (there is no kube-proxy): pods reach
	// Services only through the API server's endpoint routing.
	serviceRange = "10.96.0.0/24"
)

// layout names the files in the state folder.
type layout struct{ dir string }

func (s layout) path(rel string) string { return filepath.Join(s.dir, rel) }

func (s layout) containerdSocket() string { return s.path("containerd/containerd.sock") }

// kubeconfig is the admin kubeconfig, for client-go and kubectl.
func (s layout) kubeconfig() string { return s.path("kubeconfig") }
