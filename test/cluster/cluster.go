package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options configure Start. The zero value is a usable cluster.
type Options struct {
	// StateDir holds everything the cluster makes; default bin/cluster in
	// the checkout. Start first cleans up whatever a previous run left there.
	StateDir string
	// Sidekiq also imports the Sidekiq image (SidekiqImage). The first time
	// it downloads Ruby and Sidekiq from Debian (cached in bin/images).
	Sidekiq bool
	// Log receives progress; default slog.Default().
	Log *slog.Logger
}

// Cluster is a running single-node cluster.
type Cluster struct {
	// Kubeconfig is the admin kubeconfig (system:masters).
	Kubeconfig string
	// Kubectl is the path of a kubectl matching the cluster's version.
	Kubectl string
	// Client talks to the cluster as admin.
	Client *kubernetes.Clientset
	// Config is Client's REST configuration.
	Config *rest.Config
	// StateDir holds logs/ (each component's log) among the rest.
	StateDir string
	// ProbeImage is the product image imported from `make image`'s archive
	// (bin/image/sidekiq-probe.oci.tar), tagged with its version.
	ProbeImage string

	bins    binaries
	log     *slog.Logger
	lock    *os.File // held from Start to Stop, see lockMachine
	stopped bool
}

// Start brings up a cluster and returns once the node is Ready and pods can
// be created in the default namespace. On error it cleans up what it made.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, root, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: must run as root (it runs a kubelet, containerd and makes network devices)")
	}
	if err := c.bins.check(); err != nil {
		return nil, err
	}
	if c.lock, err = lockMachine(ctx, root); err != nil {
		return nil, err
	}
	// A bridge without our state folder belongs to a cluster in another
	// folder, such as the one `make cluster-up` leaves running.
	if _, err := os.Stat(c.StateDir); bridgeExists() && err != nil {
		c.lock.Close()
		return nil, fmt.Errorf("cluster: %s exists: another test cluster runs on this machine (`make cluster-down` stops the default one)", bridgeName)
	}
	if err := c.teardown(); err != nil {
		c.lock.Close()
		return nil, fmt.Errorf("cleaning up an earlier run: %w", err)
	}
	if err := c.start(ctx, root, opts.Sidekiq); err != nil {
		return nil, errors.Join(err, c.Stop())
	}
	return c, nil
}

// Down stops the cluster whose state is in opts.StateDir, if any: for a
// cluster started by another process (the CLI's "up").
func Down(ctx context.Context, opts Options) error {
	c, root, err := newCluster(opts)
	if err != nil {
		return err
	}
	if c.lock, err = lockMachine(ctx, root); err != nil {
		return err
	}
	return c.Stop()
}

func newCluster(opts Options) (*Cluster, string, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, "", err
	}
	bins := binaryPaths(root)
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(root, "bin", "cluster")
	}
	// The kernel lists mounts by their real path: teardown finds those
	// under the state folder only by that path, whatever symlink (a
	// symlinked bin/, say) the caller named it by.
	parent := filepath.Dir(opts.StateDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, "", err
	}
	if parent, err = filepath.EvalSymlinks(parent); err != nil {
		return nil, "", err
	}
	if opts.StateDir, err = filepath.Abs(filepath.Join(parent, filepath.Base(opts.StateDir))); err != nil {
		return nil, "", err
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Cluster{
		Kubeconfig: layout{opts.StateDir}.kubeconfig(),
		Kubectl:    bins.kubectl,
		StateDir:   opts.StateDir,
		bins:       bins,
		log:        opts.Log,
	}, root, nil
}

func (c *Cluster) start(ctx context.Context, root string, sidekiq bool) error {
	s := layout{c.StateDir}
	began := time.Now()
	if err := createBridge(ctx); err != nil {
		return err
	}
	local, err := freePorts("127.0.0.1", 2)
	if err != nil {
		return err
	}
	node, err := freePorts(NodeIP, 2)
	if err != nil {
		return err
	}

	// The runtime and its images come up while the control plane does; a
	// failed control plane cancels it, as nothing may run during Stop.
	runtimeCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runtimeReady := make(chan error, 1)
	go func() { runtimeReady <- c.startRuntime(runtimeCtx, s, root, sidekiq) }()
	err = c.startControlPlane(ctx, s, controlPlanePorts{etcd: local[0], etcdPeer: local[1], apiserver: node[0]})
	if err != nil {
		cancel()
	}
	if err := errors.Join(err, <-runtimeReady); err != nil {
		return err
	}
	if err := c.startKubelet(ctx, s, node[1]); err != nil {
		return err
	}
	c.log.Info("cluster: node ready", "after", time.Since(began).Round(time.Millisecond))
	return nil
}
