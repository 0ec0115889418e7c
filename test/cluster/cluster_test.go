package cluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// TestCluster_NativeSidecarPod brings a real node up, runs a pod whose
// native sidecar is our probe binary next to a plain container, checks that
// kubectl works, and that teardown leaves nothing on the machine.
func TestCluster_NativeSidecarPod(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "bin", "cluster-test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	began := time.Now()
	c, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("startup: %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { c.Stop() })

	pod := sidecarPod()
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if err := waitPodReady(ctx, c, pod.Name); err != nil {
		logs, _ := os.ReadFile(filepath.Join(state, "logs", "kubelet.log"))
		t.Fatalf("%v\nkubelet log tail:\n%s", err, tail(string(logs), 40))
	}
	t.Logf("pod ready: %s after creation", time.Since(created).Round(time.Millisecond))

	out, err := exec.CommandContext(ctx, c.Kubectl, "--kubeconfig="+c.Kubeconfig,
		"get", "pod", pod.Name, "-o", "jsonpath={.status.initContainerStatuses[0].started}").CombinedOutput()
	if err != nil || string(out) != "true" {
		t.Fatalf("kubectl get pod: %v: %q", err, out)
	}
	out, err = exec.CommandContext(ctx, c.Kubectl, "--kubeconfig="+c.Kubeconfig,
		"logs", pod.Name, "-c", "probe").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "serving") {
		t.Fatalf("kubectl logs: %v: %q", err, out)
	}
	// The host reaches the pod on the bridge, as the kubelet's probes do.
	running, err := c.Client.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	metrics := fmt.Sprintf("http://%s:%d%s", running.Status.PodIP, contract.DefaultPort, contract.PathMetrics)
	resp, err := http.Get(metrics)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", metrics, resp.Status)
	}

	began = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown: %s", time.Since(began).Round(time.Millisecond))
	for _, leftover := range leftovers(state) {
		t.Error("left behind:", leftover)
	}
}

// sidecarPod runs our probe binary as a native sidecar (an init container
// that keeps running) next to a plain main container (the pause program).
// There is no Redis: the sidecar serves anyway, its probes would just fail.
func sidecarPod() *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke"},
		Spec: corev1.PodSpec{
			ShareProcessNamespace: new(true),
			InitContainers: []corev1.Container{{
				Name:            "probe",
				Image:           ProbeImage,
				ImagePullPolicy: corev1.PullNever,
				RestartPolicy:   &always,
				Command:         []string{"/sidekiq-probe", "-redis-url=redis://127.0.0.1:1/0"},
			}},
			Containers: []corev1.Container{{
				Name:            "main",
				Image:           PauseImage,
				ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
}

func waitPodReady(ctx context.Context, c *Cluster, name string) error {
	return poll(ctx, 2*time.Minute, func() error {
		pod, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range pod.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return &notReady{pod.Status}
	})
}

type notReady struct{ status corev1.PodStatus }

func (e *notReady) Error() string {
	return "pod not ready: " + e.status.String()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
