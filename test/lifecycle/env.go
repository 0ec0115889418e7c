package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

// Env is a running node with Redis on it and the chart installed.
type Env struct {
	Cluster *cluster.Cluster
	Redis   *Redis
	Root    string // the repository, for bin/helm
	log     *slog.Logger
}

// EnvOptions configure Start.
type EnvOptions struct {
	StateDir string // the cluster's folder; Redis keeps its data in StateDir/redis
	Log      *slog.Logger
	// ChartValues are extra `helm install --set` values.
	ChartValues []string
}

// Start brings up the node with the Sidekiq image, Redis on the node's
// address and the chart; it returns once the webhook injects pods. On
// error it stops what it started.
func Start(ctx context.Context, opts EnvOptions) (*Env, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	c, err := cluster.Start(ctx, cluster.Options{StateDir: opts.StateDir, Sidekiq: true, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	e := &Env{Cluster: c, log: opts.Log}
	if e.Root, err = cluster.RepoRoot(); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	// The bridge, and so the node's address, exists once the cluster is up.
	if e.Redis, err = StartRedis(ctx, filepath.Join(c.StateDir, "redis")); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if err := e.installChart(ctx, opts.ChartValues); err != nil {
		return nil, errors.Join(fmt.Errorf("installing the chart: %w", err), e.Stop())
	}
	return e, nil
}

// Stop stops Redis and the cluster, leaving nothing behind.
func (e *Env) Stop() error {
	if e.Redis != nil {
		e.Redis.Stop()
	}
	return e.Cluster.Stop()
}
