package chart_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// The policy's CEL as the API server evaluates it, without any webhook: the
// pods are built injected or not by hand. The e2e tests cover the policy
// next to the running webhook.
func TestValidationPolicy_OnARealAPIServer(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.helm(t, "install", release, chartDir, "--create-namespace")

	ctx := context.Background()
	for name, labels := range map[string]map[string]string{
		"shop":  {webhook.NamespaceLabel: webhook.NamespaceLabelEnabled},
		"plain": nil,
	} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	warnings, client := testkit.WarningClient(t, c.Config)

	// The API server loads a new policy asynchronously.
	testkit.WaitFor(t, time.Minute, "the policy to warn", func() bool {
		_, err := createPod(ctx, client, "shop", testkit.SidekiqPod(askedForInjection))
		return err == nil && len(warnings.Take()) > 0
	})

	tests := map[string]struct {
		namespace string
		pod       *corev1.Pod
		warned    bool
	}{
		"an annotated pod that was not injected is flagged": {"shop", testkit.SidekiqPod(askedForInjection), true},
		"an injected pod is not":                            {"shop", testkit.SidekiqPod(askedForInjection, injected), false},
		"a pod without the annotation is not":               {"shop", testkit.SidekiqPod(nil), false},
		"a pod of an unlabelled namespace is not":           {"plain", testkit.SidekiqPod(askedForInjection), false},
		"a pod of the release namespace is not":             {namespace, testkit.SidekiqPod(askedForInjection), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// Not parallel: the warnings are recorded per client.
			if _, err := createPod(ctx, client, tc.namespace, tc.pod); err != nil {
				t.Fatal(err)
			}
			got := warnings.Take()
			if tc.warned != (len(got) == 1) {
				t.Fatalf("warnings %q, want warned=%v", got, tc.warned)
			}
			if tc.warned && !strings.Contains(got[0], "no "+contract.ContainerName+" sidecar") {
				t.Errorf("warning %q does not say the sidecar is missing", got[0])
			}
		})
	}

	c.helm(t, "upgrade", release, chartDir, "--set-json", `validation.actions=["Deny"]`)
	var denial error
	testkit.WaitFor(t, time.Minute, "the policy to deny", func() bool {
		_, denial = createPod(ctx, client, "shop", testkit.SidekiqPod(askedForInjection))
		return denial != nil
	})
	if !strings.Contains(denial.Error(), "was not injected by the sidekiq-probe webhook") {
		t.Errorf("denial %q does not say the pod was not injected", denial)
	}
}

// askedForInjection annotates a Sidekiq pod for injection; injected makes
// it look like the webhook's output to the policy.
var (
	askedForInjection = map[string]string{webhook.AnnotationInject: "true"}
	injected          = testkit.LooksInjected(webhook.AnnotationStatus, webhook.StatusInjected)
)

// createPod creates the pod as a server-side dry run: admission runs in full,
// nothing is stored.
func createPod(ctx context.Context, client kubernetes.Interface, namespace string, pod *corev1.Pod) (*corev1.Pod, error) {
	return client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
}
