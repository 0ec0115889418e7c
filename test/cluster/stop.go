package cluster

import (
	"context"
	"errors"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Stop tears the cluster down and removes everything it made: processes,
// mounts, network devices, iptables chains, cgroups and the state folder.
// Calling it again does nothing, so a test may both Stop and register Stop
// as cleanup.
func (c *Cluster) Stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	err := c.teardown()
	if c.lock != nil {
		c.lock.Close() // the next cluster on this machine may start
	}
	return err
}

// teardown works from the state folder alone, so it also cleans up after a
// crashed run.
func (c *Cluster) teardown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	s := layout{c.StateDir}
	stop := func(name, bin string, grace time.Duration) error {
		return stopProcess(s.dir, name, bin, grace)
	}

	// Nothing may recreate or reschedule pods while they are deleted.
	errs := []error{
		stop("kube-controller-manager", c.bins.controllerManager, 10*time.Second),
		stop("kube-scheduler", c.bins.scheduler, 10*time.Second),
	}
	if err := c.deleteAllPods(ctx, s); err != nil {
		// A dead kubelet or API server cannot stop pods; the sweep below
		// kills what is left.
		c.log.Warn("cluster: pods not deleted through the API", "err", err)
	}
	errs = append(errs,
		stop("kubelet", c.bins.kubelet, 10*time.Second),
		stop("kube-apiserver", c.bins.apiserver, 10*time.Second),
		stop("etcd", c.bins.etcd, 10*time.Second),
		stop("containerd", c.bins.containerd, 10*time.Second),
	)
	killContainers(c.bins.shim())
	errs = append(errs,
		unmountUnder(s.dir),
		removeNetwork(ctx),
		removeCgroups(),
		removeHostLeftovers(),
		os.RemoveAll(s.dir),
	)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.log.Info("cluster: stopped and cleaned up", "after", time.Since(began).Round(time.Millisecond))
	return nil
}

// deleteAllPods deletes pods through the API when the kubelet and the API
// server still run: only then can pods be stopped the clean way.
func (c *Cluster) deleteAllPods(ctx context.Context, s layout) error {
	if !running(s.dir, "kubelet", c.bins.kubelet) || !running(s.dir, "kube-apiserver", c.bins.apiserver) {
		return nil
	}
	if c.Client == nil {
		cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
		if err != nil {
			return err
		}
		cfg.Timeout = 10 * time.Second
		if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
	}
	return c.deletePods(ctx)
}
