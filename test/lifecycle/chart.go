package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/test/cluster"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// The names of the documented install: `helm install sidekiq-probe
// charts/sidekiq-probe -n sidekiq-probe --create-namespace`.
const (
	Release          = "sidekiq-probe"
	ReleaseNamespace = "sidekiq-probe"
	webhookName      = "sidekiq-probe-webhook"
)

// installChart runs the real `helm install` against the node, with the
// images the cluster imported, and waits until the webhook injects a pod.
func (e *Env) installChart(ctx context.Context, values []string) error {
	image, tag, _ := strings.Cut(e.Cluster.ProbeImage, ":")
	args := []string{"install", Release, filepath.Join(e.Root, "charts", "sidekiq-probe"),
		"--namespace", ReleaseNamespace, "--create-namespace",
		"--set", "image.repository=" + image, "--set", "image.tag=" + tag,
		"--set", "sidecarImage.repository=" + image, "--set", "sidecarImage.tag=" + tag}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	if out, err := e.helm(ctx, args...); err != nil {
		return fmt.Errorf("helm install: %w\n%s", err, out)
	}
	// Policy mode has no webhook: the API server injects by itself.
	webhook := !slices.Contains(values, "mode=policy")
	if webhook {
		if err := e.pointWebhookAtAPIServer(ctx); err != nil {
			return err
		}
	}
	e.log.Info("lifecycle: chart installed, waiting for injection", "webhook", webhook)
	return e.waitInjecting(ctx, webhook)
}

// helm runs bin/helm against the node, with its own empty home.
func (e *Env) helm(ctx context.Context, args ...string) ([]byte, error) {
	bin := filepath.Join(e.Root, "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("helm is missing (%v): run `make deps`", err)
	}
	home, err := os.MkdirTemp("", "lifecycle-helm")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", e.Cluster.Kubeconfig)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.Bytes(), err
}

// pointWebhookAtAPIServer sets KUBERNETES_SERVICE_HOST/PORT on the webhook:
// the node has no kube-proxy, so the kubernetes Service's IP, which the
// kubelet would put there, routes nowhere; the API server's own address
// does. This is the only change made to what the chart renders.
func (e *Env) pointWebhookAtAPIServer(ctx context.Context) error {
	u, err := url.Parse(e.Cluster.Config.Host)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"webhook","env":[`+
		`{"name":"KUBERNETES_SERVICE_HOST","value":%q},{"name":"KUBERNETES_SERVICE_PORT","value":%q}]}]}}}}`,
		u.Hostname(), u.Port())
	_, err = e.Cluster.Client.AppsV1().Deployments(ReleaseNamespace).Patch(ctx, webhookName,
		types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// waitInjecting waits for the webhook Deployment to be available (when
// there is one) and for a dry-run pod in an opted-in namespace to come back
// with the sidecar.
func (e *Env) waitInjecting(ctx context.Context, webhook bool) error {
	if webhook {
		if err := e.waitWebhookRolledOut(ctx); err != nil {
			return err
		}
	}
	return e.waitDryRunInjected(ctx)
}

func (e *Env) waitWebhookRolledOut(ctx context.Context) error {
	deployments := e.Cluster.Client.AppsV1().Deployments(ReleaseNamespace)
	return cluster.Poll(ctx, 3*time.Minute, func() error {
		d, err := deployments.Get(ctx, webhookName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !rolledOut(d) {
			return fmt.Errorf("webhook Deployment not rolled out: %+v", d.Status)
		}
		return nil
	})
}

func (e *Env) waitDryRunInjected(ctx context.Context) error {
	const probeNS = "lifecycle-webhook-check"
	if err := e.CreateNamespace(ctx, probeNS, true); err != nil {
		return err
	}
	defer e.DeleteNamespace(context.WithoutCancel(ctx), probeNS)
	return cluster.Poll(ctx, 2*time.Minute, func() error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "check", Annotations: map[string]string{
				webhook.AnnotationInject: "true", webhook.AnnotationMaxJobSeconds: "1"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "sidekiq", Image: cluster.SidekiqImage, Command: []string{"sidekiq"},
				Env: []corev1.EnvVar{{Name: "REDIS_URL", Value: "redis://" + cluster.NodeIP}},
			}}},
		}
		got, err := e.Cluster.Client.CoreV1().Pods(probeNS).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if !testkit.HasSidecar(got) {
			return fmt.Errorf("the webhook has not injected a dry-run pod yet")
		}
		return nil
	})
}

// rolledOut reports whether every replica of d runs its current template.
func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
		s.AvailableReplicas == want && s.Replicas == want
}

// CreateNamespace creates ns, opted in to injection when optIn.
func (e *Env) CreateNamespace(ctx context.Context, ns string, optIn bool) error {
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
	if optIn {
		obj.Labels = map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled}
	}
	_, err := e.Cluster.Client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{})
	return err
}

// DeleteNamespace deletes ns and waits until it is gone, so its pods have
// stopped (and drained) before the next scenario starts.
func (e *Env) DeleteNamespace(ctx context.Context, ns string) error {
	namespaces := e.Cluster.Client.CoreV1().Namespaces()
	if err := namespaces.Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return err
	}
	return cluster.Poll(ctx, 3*time.Minute, func() error {
		if _, err := namespaces.Get(ctx, ns, metav1.GetOptions{}); err == nil {
			return fmt.Errorf("namespace %s still terminating", ns)
		}
		return nil
	})
}
