//go:build tools

// Package tools pins the container runtime the local test cluster
// (test/cluster) runs on. The build tag keeps it out of every build; the
// Makefile builds each command by its import path.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
