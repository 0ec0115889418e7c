package cluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"sidekiq-probe.io/sidekiq-probe/certs"
)

type controlPlanePorts struct{ etcd, etcdPeer, apiserver int }

// startControlPlane starts etcd, the API server and, once it is ready, the
// scheduler and the controller-manager, with fresh certificates.
func (c *Cluster) startControlPlane(ctx context.Context, s layout, ports controlPlanePorts) error {
	began := time.Now()
	p, err := c.writePKI(s)
	if err != nil {
		return err
	}
	server := "https://" + net.JoinHostPort(NodeIP, strconv.Itoa(ports.apiserver))
	for user, file := range map[string]string{"admin": s.kubeconfig(), "kubelet": s.path("kubelet.kubeconfig")} {
		if err := writeKubeconfig(file, server, p, user); err != nil {
			return err
		}
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports.etcd)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports.etcdPeer)
	if err := startProcess(s.dir, "etcd", c.bins.etcd,
		"--data-dir="+s.path("etcd"), "--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	if err := startProcess(s.dir, "kube-apiserver", c.bins.apiserver, apiserverArgs(s, etcdURL, ports.apiserver)...); err != nil {
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
	return startProcess(s.dir, "kube-scheduler", c.bins.scheduler, admin, "--leader-elect=false", "--secure-port=0")
}

func (c *Cluster) writePKI(s layout) (*pki, error) {
	p, err := newPKI(s.path("pki"))
	if err != nil {
		return nil, err
	}
	ips := []net.IP{net.ParseIP(NodeIP), net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	leaves := map[string]certs.Leaf{
		"apiserver": {CommonName: "kube-apiserver", IPs: ips, DNSNames: dns},
		"admin":     {CommonName: "admin", Organizations: []string{"system:masters"}},
		"kubelet":   {CommonName: "system:node:" + nodeName, Organizations: []string{"system:nodes"}},
		// The API server's client identity towards the kubelet (logs, exec).
		"apiserver-kubelet-client": {CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}},
	}
	for name, leaf := range leaves {
		if err := p.issue(name, leaf); err != nil {
			return nil, err
		}
	}
	return p, p.serviceAccountKey()
}

func apiserverArgs(s layout, etcdURL string, port int) []string {
	pki := s.path("pki")
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + NodeIP,
		"--advertise-address=" + NodeIP,
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
