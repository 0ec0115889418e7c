//go:build tools

// Package tools pins the control plane of the oldest Kubernetes the chart
// accepts in go.mod. The build tag keeps it out of every build; the Makefile
// builds each command by its import path.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
