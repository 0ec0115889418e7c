package cluster

import "path/filepath"

// NodeIP is the host's address on the pod network (the bridge's own): the
// API server and the kubelet listen there, and so must any service on the
// host that pods use, such as a test's Redis. Pods have no other route.
const NodeIP = "10.88.0.1"

// Fixed network settings: one bridge on a private subnet that exists only on
// this machine.
const (
	bridgeName = "cni0"
	podSubnet  = "10.88.0.0/16"
	nodeName   = "sidekiq-probe-node"
	// Service IPs get no routes (there is no kube-proxy): only the API
	// server reaches Services, at their endpoints' pod addresses.
	serviceRange = "10.96.0.0/24"
)

// layout names the files in the state folder.
type layout struct{ dir string }

func (s layout) path(rel string) string { return filepath.Join(s.dir, rel) }

func (s layout) containerdSocket() string { return s.path("containerd/containerd.sock") }

// kubeconfig is the admin kubeconfig, for client-go and kubectl.
func (s layout) kubeconfig() string { return s.path("kubeconfig") }
