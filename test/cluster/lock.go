package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockMachine takes the lock that lets one cluster at a time run on this
// machine: they would share the bridge, its subnet and the kubelet's
// iptables chains. A second Start waits for the first one's Stop, so test
// packages that run in parallel under `go test ./...` take turns. The lock
// is released when the returned file is closed, or when the process exits.
func lockMachine(ctx context.Context, root string) (*os.File, error) {
	path := filepath.Join(root, "bin", "cluster.lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	err = poll(ctx, time.Hour, func() error {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("waiting for the other test cluster on this machine to stop: %w", err)
	}
	return f, nil
}
