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
	"sidekiq-probe.io/sidekiq-probe/probeserver"
)

// TestCluster_NativeSidecarPod brings a real node up, runs a pod whose
// native sidecar is our probe binary next to a plain container, checks that
// kubectl and the networks work, and that teardown leaves nothing behind.
func TestCluster_NativeSidecarPod(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "bin", "cluster-test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	forwarding, _ := os.ReadFile(ipForward)
	began := time.Now()
	c, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("startup: %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { c.Stop() })

	pod := sidecarPod(c.ProbeImage)
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if err := waitPodReady(ctx, c, pod.Name); err != nil {
		logs, _ := os.ReadFile(filepath.Join(state, "logs", "kubelet.log"))
		t.Fatalf("%v\nkubelet log tail:\n%s", err, tail(string(logs), 40))
	}
	t.Logf("pod ready: %s after creation", time.Since(created).Round(time.Millisecond))

	checkKubectl(ctx, t, c, pod.Name)
	checkProbeImagePlatforms(ctx, t, c)
	checkFromHost(ctx, t, c, pod.Name)
	checkThroughService(ctx, t, c, pod)

	began = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown: %s", time.Since(began).Round(time.Millisecond))
	for _, leftover := range leftovers(state) {
		t.Error("left behind:", leftover)
	}
	if after, _ := os.ReadFile(ipForward); string(after) != string(forwarding) {
		t.Errorf("%s changed from %q to %q", ipForward, forwarding, after)
	}
}

// ipForward is the host's IP forwarding switch: the cluster must not turn
// it on (pod traffic stays on this machine).
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// checkKubectl runs our kubectl against the cluster: status and logs (the
// API server reaching the kubelet).
func checkKubectl(ctx context.Context, t *testing.T, c *Cluster, pod string) {
	t.Helper()
	kubectl := func(args ...string) string {
		out, err := exec.CommandContext(ctx, c.Kubectl, append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := kubectl("get", "pod", pod, "-o", "jsonpath={.status.initContainerStatuses[0].started}"); out != "true" {
		t.Errorf("native sidecar started = %q, want true", out)
	}
	if out := kubectl("logs", pod, "-c", "probe"); !strings.Contains(out, "serving") {
		t.Errorf("sidecar log has no \"serving\" line: %q", out)
	}
}

// checkProbeImagePlatforms: containerd holds the product image as `make
// image` wrote it, one name for the index of both platforms.
func checkProbeImagePlatforms(ctx context.Context, t *testing.T, c *Cluster) {
	t.Helper()
	out, err := exec.CommandContext(ctx, c.bins.ctr, "--address="+layout{c.StateDir}.containerdSocket(),
		"--namespace=k8s.io", "images", "ls", "name=="+c.ProbeImage).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "linux/amd64,linux/arm64") {
		t.Errorf("ctr images ls %s: %v\n%s\nwant the platforms linux/amd64,linux/arm64", c.ProbeImage, err, out)
	}
}

// checkFromHost reaches the sidecar at the pod's address on the bridge, as
// the kubelet's probes do.
func checkFromHost(ctx context.Context, t *testing.T, c *Cluster, name string) {
	t.Helper()
	pod, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s:%d%s", pod.Status.PodIP, contract.DefaultPort, probeserver.PathMetrics)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
}

// checkThroughService reaches the sidecar through a Service by the API
// server's proxy, which resolves the Service to its endpoints the way the
// API server calls a webhook (there is no kube-proxy).
func checkThroughService(ctx context.Context, t *testing.T, c *Cluster, pod *corev1.Pod) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name},
		Spec: corev1.ServiceSpec{
			Selector: pod.Labels,
			Ports:    []corev1.ServicePort{{Port: contract.DefaultPort}},
		},
	}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(contract.DefaultPort)
	err := poll(ctx, time.Minute, func() error {
		_, err := c.Client.CoreV1().Services("default").ProxyGet("http", svc.Name, port, probeserver.PathMetrics, nil).DoRaw(ctx)
		return err
	})
	if err != nil {
		t.Errorf("GET %s through Service %s: %v", probeserver.PathMetrics, svc.Name, err)
	}
}

// sidecarPod runs our probe binary as a native sidecar (an init container
// that keeps running) next to a plain main container (the pause program).
// There is no Redis: the sidecar serves anyway, its probes would just fail.
func sidecarPod(probeImage string) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Labels: map[string]string{"app": "smoke"}},
		Spec: corev1.PodSpec{
			ShareProcessNamespace: new(true),
			InitContainers: []corev1.Container{{
				Name:            "probe",
				Image:           probeImage,
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
