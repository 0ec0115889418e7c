package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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
	root, err := repoRoot()
	if err != nil {
		return nil, "", err
	}
	bins := binaryPaths(root)
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(root, "bin", "cluster")
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
	p, err := c.writePKI(s)
	if err != nil {
		return err
	}
	if err := createBridge(ctx); err != nil {
		return err
	}
	local, err := freePorts("127.0.0.1", 2)
	if err != nil {
		return err
	}
	node, err := freePorts(nodeIP, 2)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kubeletPort := local[0], local[1], node[0], node[1]
	server := "https://" + net.JoinHostPort(nodeIP, strconv.Itoa(apiPort))
	for user, file := range map[string]string{"admin": s.kubeconfig(), "kubelet": s.path("kubelet.kubeconfig")} {
		if err := writeKubeconfig(file, server, p, user); err != nil {
			return err
		}
	}

	// The runtime and its images come up while the control plane does.
	runtimeReady := make(chan error, 1)
	go func() { runtimeReady <- c.startRuntime(ctx, s, root, sidekiq) }()

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	if err := startProcess(s.dir, "etcd", c.bins.etcd,
		"--data-dir="+s.path("etcd"), "--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	if err := startProcess(s.dir, "kube-apiserver", c.bins.apiserver, apiserverArgs(s, etcdURL, apiPort)...); err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", s.kubeconfig()); err != nil {
		return err
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	if err := c.waitAPIServer(ctx); err != nil {
		return err
	}
	c.log.Info("cluster: API server ready", "after", time.Since(began).Round(time.Millisecond), "server", server)

	admin := "--kubeconfig=" + s.kubeconfig()
	if err := startProcess(s.dir, "kube-controller-manager", c.bins.controllerManager, admin,
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+p.path("sa.key"), "--root-ca-file="+p.path("ca.crt")); err != nil {
		return err
	}
	if err := startProcess(s.dir, "kube-scheduler", c.bins.scheduler, admin,
		"--leader-elect=false", "--secure-port=0"); err != nil {
		return err
	}
	if err := <-runtimeReady; err != nil {
		return err
	}
	if err := os.WriteFile(s.path("kubelet/config.yaml"), []byte(kubeletConfig(s, kubeletPort)), 0o644); err != nil {
		return err
	}
	if err := startProcess(s.dir, "kubelet", c.bins.kubelet,
		"--config="+s.path("kubelet/config.yaml"), "--kubeconfig="+s.path("kubelet.kubeconfig"),
		"--root-dir="+s.path("kubelet"), "--cert-dir="+s.path("kubelet/pki"),
		"--node-ip="+nodeIP, "--hostname-override="+nodeName); err != nil {
		return err
	}
	if err := c.waitNodeReady(ctx); err != nil {
		return err
	}
	c.log.Info("cluster: node ready", "after", time.Since(began).Round(time.Millisecond))
	return nil
}

func (c *Cluster) writePKI(s layout) (*pki, error) {
	p, err := newPKI(s.path("pki"))
	if err != nil {
		return nil, err
	}
	ips := []net.IP{net.ParseIP(nodeIP), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	certs := []struct {
		name, cn string
		orgs     []string
	}{
		{"admin", "admin", []string{"system:masters"}},
		{"kubelet", "system:node:" + nodeName, []string{"system:nodes"}},
		// The API server's client identity towards the kubelet (logs, exec).
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}},
	}
	if err := p.issue("apiserver", "kube-apiserver", nil, ips, dns); err != nil {
		return nil, err
	}
	for _, cert := range certs {
		if err := p.issue(cert.name, cert.cn, cert.orgs, nil, nil); err != nil {
			return nil, err
		}
	}
	return p, p.serviceAccountKey()
}

func apiserverArgs(s layout, etcdURL string, port int) []string {
	pki := s.path("pki")
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + nodeIP,
		"--advertise-address=" + nodeIP,
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--service-cluster-ip-range=" + serviceRange,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--kubelet-client-certificate=" + filepath.Join(pki, "apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + filepath.Join(pki, "apiserver-kubelet-client.key"),
		// The node has no DNS name the API server could resolve.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		// No kube-proxy: the API server calls webhooks and aggregated APIs
		// behind Services at their endpoints' pod addresses.
		"--enable-aggregator-routing=true",
		"--profiling=false",
	}
}

// startRuntime starts containerd and imports the images into the namespace
// the CRI uses.
func (c *Cluster) startRuntime(ctx context.Context, s layout, root string, sidekiq bool) error {
	began := time.Now()
	for _, dir := range []string{"cni/net.d", "containerd", "kubelet"} {
		if err := os.MkdirAll(s.path(dir), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(s.path("cni/net.d/10-bridge.conflist"), []byte(cniConfig(s)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(s.path("containerd/config.toml"), []byte(containerdConfig(s, c.bins.shim())), 0o644); err != nil {
		return err
	}
	if err := startProcess(s.dir, "containerd", c.bins.containerd, "--config="+s.path("containerd/config.toml")); err != nil {
		return err
	}
	archives, err := buildImages(ctx, root, filepath.Join(root, "bin", "images"), sidekiq)
	if err != nil {
		return err
	}
	ctr := []string{"--address=" + s.containerdSocket(), "--namespace=k8s.io"}
	if err := poll(ctx, 30*time.Second, func() error { return run(ctx, "", c.bins.ctr, append(ctr, "version")...) }); err != nil {
		return fmt.Errorf("containerd did not answer (see %s): %w", s.path("logs/containerd.log"), err)
	}
	for _, a := range archives {
		if err := run(ctx, "", c.bins.ctr, append(ctr, "images", "import", a)...); err != nil {
			return err
		}
	}
	c.log.Info("cluster: containerd ready, images imported", "after", time.Since(began).Round(time.Millisecond), "images", len(archives))
	return nil
}

// freePorts asks the kernel for n distinct free ports on host. Another
// program could take one before we bind it; unlikely on a test machine.
func freePorts(host string, n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// poll calls f until it returns nil or timeout passes, returning f's last
// error.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
