//go:build tools

// Package tools pins the control-plane binaries in go.mod, and the node's
// (kube-scheduler, kubelet, kubectl) for the local cluster in test/cluster.
// The build tag keeps it out of every build; the Makefile builds each
// command by its import path.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
