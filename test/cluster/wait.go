package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// waitAPIServer waits for /readyz. Generous timeouts here and below: under
// `go test ./...` the machine also compiles other packages.
func (c *Cluster) waitAPIServer(ctx context.Context) error {
	err := poll(ctx, 2*time.Minute, func() error {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("API server not ready (see %s/logs/kube-apiserver.log): %w", c.StateDir, err)
	}
	return nil
}

// waitNodeReady waits for the node to be Ready and for the default
// ServiceAccount, without which no pod can be created in "default".
func (c *Cluster) waitNodeReady(ctx context.Context) error {
	err := poll(ctx, 2*time.Minute, func() error {
		node, err := c.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("node not Ready")
	})
	if err != nil {
		return fmt.Errorf("%w (see %s/logs/kubelet.log)", err, c.StateDir)
	}
	return poll(ctx, 60*time.Second, func() error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// deletePods deletes every pod through the API and waits until the kubelet
// has stopped them, so it tears down their networks and mounts itself. The
// controllers are stopped first, so nothing creates pods again.
func (c *Cluster) deletePods(ctx context.Context) error {
	pods := c.Client.CoreV1().Pods(metav1.NamespaceAll)
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	c.log.Info("cluster: deleting pods", "count", len(list.Items))
	grace := int64(1)
	for _, pod := range list.Items {
		err := c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil {
			return err
		}
	}
	return poll(ctx, 60*time.Second, func() error {
		list, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if n := len(list.Items); n > 0 {
			return fmt.Errorf("%d pods still terminating", n)
		}
		return nil
	})
}

// Poll calls f until it returns nil or timeout passes, returning f's last
// error. For the packages that drive the cluster (test/lifecycle).
func Poll(ctx context.Context, timeout time.Duration, f func() error) error {
	return poll(ctx, timeout, f)
}

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
