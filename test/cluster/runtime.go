package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

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
	archives, probe, err := buildImages(ctx, root, filepath.Join(root, "bin", "images"), sidekiq)
	if err != nil {
		return err
	}
	c.ProbeImage = probe
	ctr := []string{"--address=" + s.containerdSocket(), "--namespace=k8s.io"}
	if err := poll(ctx, 30*time.Second, func() error { return run(ctx, "", c.bins.ctr, append(ctr, "version")...) }); err != nil {
		return fmt.Errorf("containerd did not answer (see %s): %w", s.path("logs/containerd.log"), err)
	}
	// Every platform's content is imported (and checked against its
	// digests), the node's own is unpacked; the tag in the archive is
	// added to the repository given here.
	for _, a := range archives {
		args := append(ctr, "images", "import", "--all-platforms", "--base-name", a.repository, a.path)
		if err := run(ctx, "", c.bins.ctr, args...); err != nil {
			return err
		}
	}
	c.log.Info("cluster: containerd ready, images imported", "after", time.Since(began).Round(time.Millisecond), "images", len(archives))
	return nil
}

// startKubelet starts the kubelet and waits until its node is Ready.
func (c *Cluster) startKubelet(ctx context.Context, s layout, port int) error {
	if err := os.WriteFile(s.path("kubelet/config.yaml"), []byte(kubeletConfig(s, port)), 0o644); err != nil {
		return err
	}
	if err := startProcess(s.dir, "kubelet", c.bins.kubelet,
		"--config="+s.path("kubelet/config.yaml"), "--kubeconfig="+s.path("kubelet.kubeconfig"),
		"--root-dir="+s.path("kubelet"), "--cert-dir="+s.path("kubelet/pki"),
		"--node-ip="+NodeIP, "--hostname-override="+nodeName); err != nil {
		return err
	}
	return c.waitNodeReady(ctx)
}
