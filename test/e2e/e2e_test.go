package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestChart_TwoReplicas installs the chart, runs two webhook replicas as the
// chart's ServiceAccount and creates pods through the API server.
func TestChart_TwoReplicas(t *testing.T) {
	forEachRelease(t, twoReplicas)
}

func twoReplicas(t *testing.T, r testcontrolplane.Release) {
	in := installOn(t, r, goldenSidecarImage...)
	a, b := in.startReplica(t, in.port), in.startReplica(t, testkit.FreePort(t))
	ctx := t.Context()
	client := in.cp.Client

	t.Run("both replicas serve one certificate from one CA", func(t *testing.T) {
		config, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, configName, metav1.GetOptions{})
		testkit.Must(t, err)
		if n := bytes.Count(config.Webhooks[0].ClientConfig.CABundle, []byte("BEGIN CERTIFICATE")); n != 1 {
			t.Fatalf("caBundle holds %d CAs, want 1", n)
		}
		certA, errA := os.ReadFile(filepath.Join(a.certDir, "tls.crt"))
		certB, errB := os.ReadFile(filepath.Join(b.certDir, "tls.crt"))
		if errA != nil || errB != nil || !bytes.Equal(certA, certB) {
			t.Fatalf("replicas serve different certificates (%v, %v)", errA, errB)
		}
	})

	for name, labels := range map[string]map[string]string{
		"apps":       {webhook.NamespaceLabel: "enabled"},
		"unlabelled": nil,
		"restricted": {webhook.NamespaceLabel: "enabled", "pod-security.kubernetes.io/enforce": "restricted"},
	} {
		_, err := client.CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		testkit.Must(t, err)
	}
	testkit.WaitFor(t, time.Minute, "the API server calls the webhook", func() bool {
		pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && testkit.HasSidecar(pod)
	})

	tests := map[string]struct {
		namespace string
		pod       *corev1.Pod
		dryRun    bool
		injected  bool
		wantErr   string
	}{
		"an annotated pod in a labelled namespace gets the sidecar": {
			namespace: "apps", pod: testkit.SidekiqPod(askedForInjection), injected: true,
		},
		"a server-side dry run (kubectl --dry-run=server) sees the injection": {
			namespace: "apps", pod: testkit.SidekiqPod(askedForInjection), dryRun: true, injected: true,
		},
		"an unannotated pod is untouched": {
			namespace: "apps", pod: testkit.SidekiqPod(nil),
		},
		"an annotated pod in an unlabelled namespace is untouched": {
			namespace: "unlabelled", pod: testkit.SidekiqPod(askedForInjection),
		},
		"an annotated pod in the webhook's own namespace is untouched": {
			namespace: namespace, pod: testkit.SidekiqPod(askedForInjection),
		},
		"an inject annotation other than true or false still reaches the webhook, which denies it": {
			namespace: "apps", pod: testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "yes"}),
			wantErr: `denied the request: ` + webhook.AnnotationInject + `: "yes" is not accepted`,
		},
		"an invalid annotation is denied with the webhook's message": {
			namespace: "apps", pod: testkit.SidekiqPod(map[string]string{webhook.AnnotationInject: "true", webhook.AnnotationContainer: "nope"}),
			wantErr: `denied the request: ` + webhook.AnnotationContainer + `: "nope" is not accepted`,
		},
		"a compliant pod stays compliant with Pod Security restricted after injection": {
			namespace: "restricted", pod: restricted(testkit.SidekiqPod(askedForInjection)), injected: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := metav1.CreateOptions{}
			if tc.dryRun {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			pod, err := client.CoreV1().Pods(tc.namespace).Create(ctx, tc.pod, opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			testkit.Must(t, err)
			if got := testkit.HasSidecar(pod); got != tc.injected {
				t.Fatalf("sidecar present: %v, want %v", got, tc.injected)
			}
		})
	}

	t.Run("the API server does not call the webhook for a pod without the inject annotation", func(t *testing.T) {
		calls, excluded := webhookCalls(t, client), matchExclusions(t, client)
		pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(nil), metav1.CreateOptions{})
		testkit.Must(t, err)
		if testkit.HasSidecar(pod) {
			t.Fatal("an unannotated pod got the sidecar")
		}
		if got := webhookCalls(t, client); got != calls {
			t.Errorf("the API server called the webhook %v times for it, want 0", got-calls)
		}
		if got := matchExclusions(t, client); got != excluded+1 {
			t.Errorf("the webhook's matchConditions excluded %v pods, want 1", got-excluded)
		}
	})

	// Bare Pod cases of the webhook's golden files; the non-native ones need
	// another --native-sidecar, and a mirror pod is the kubelet's to create.
	for sentence, name := range map[string]string{
		"a plain annotated pod is stored exactly as its golden output":              "pod-plain",
		"a pod whose grace period is raised is stored exactly as its golden output": "pod-grace-smaller-raised",
		"a pod with its own probes is stored exactly as its golden output":          "pod-user-probes-kept",
		"a pod reading Redis from a Secret is stored exactly as its golden output":  "pod-redis-from-secret",
		"a pod with a pod-level UID is stored exactly as its golden output":         "pod-runasuser-pod",
		"a pod with a partial sidecar is stored exactly as its golden output":       "pod-sidecar-partial",
	} {
		t.Run(sentence, func(t *testing.T) { checkGolden(t, client, "apps", "unlabelled", name) })
	}

	t.Run("kubectl prints the webhook's denial of an invalid annotation", func(t *testing.T) {
		dir := t.TempDir()
		testkit.Must(t, os.WriteFile(filepath.Join(dir, "pod.yaml"), goldenFile(t, "invalid-container-missing.in.yaml"), 0o644))
		_, stderr, err := in.kubectl(t, dir, "create", "--namespace=apps", "-f", "pod.yaml")
		want := `Error from server (Forbidden): error when creating "pod.yaml": admission webhook "pods.sidekiq-probe.io" denied the request: ` +
			string(goldenFile(t, "invalid-container-missing.err"))
		if err == nil || !strings.Contains(stderr, want) {
			t.Fatalf("kubectl create: %v\n%s\nwant the line\n%s", err, stderr, want)
		}
	})

	t.Run("kubectl apply --dry-run=server prints the injected pod and the webhook's warning, and creates nothing", func(t *testing.T) {
		dir := t.TempDir()
		testkit.Must(t, os.WriteFile(filepath.Join(dir, "pod.yaml"), goldenFile(t, "pod-plain.in.yaml"), 0o644))
		stdout, stderr, err := in.kubectl(t, dir, "apply", "--dry-run=server", "--namespace=apps", "-f", "pod.yaml", "-o", "yaml")
		if err != nil {
			t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, stderr)
		}
		var pod corev1.Pod
		testkit.Must(t, yaml.Unmarshal([]byte(stdout), &pod))
		if !testkit.HasSidecar(&pod) || pod.Annotations[webhook.AnnotationStatus] != webhook.StatusInjected {
			t.Errorf("kubectl printed a pod without the sidecar or the %s annotation:\n%s", webhook.AnnotationStatus, stdout)
		}
		if want := "Warning: " + string(goldenFile(t, "pod-plain.warnings")); !strings.Contains(stderr, want) {
			t.Errorf("kubectl's standard error lacks the webhook's warning %q:\n%s", want, stderr)
		}
		if _, err := client.CoreV1().Pods("apps").Get(ctx, pod.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a server-side dry run stored the pod (get: %v)", err)
		}
	})

	t.Run("an annotated Deployment's pods get the sidecar (through kube-controller-manager)", func(t *testing.T) {
		in.cp.StartControllerManager(t)
		labels := map[string]string{"app": "worker"}
		pod := testkit.SidekiqPod(askedForInjection)
		_, err := client.AppsV1().Deployments("apps").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "worker"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: pod.Annotations},
					Spec:       pod.Spec,
				},
			},
		}, metav1.CreateOptions{})
		testkit.Must(t, err)
		var pods *corev1.PodList
		testkit.WaitFor(t, time.Minute, "the Deployment has two pods", func() bool {
			pods, err = client.CoreV1().Pods("apps").List(ctx, metav1.ListOptions{LabelSelector: "app=worker"})
			return err == nil && len(pods.Items) == 2
		})
		for _, p := range pods.Items {
			if !testkit.HasSidecar(&p) {
				t.Errorf("pod %s of the Deployment has no sidecar", p.Name)
			}
		}
	})

	t.Run("with the webhook down, failurePolicy Ignore creates pods unmutated", func(t *testing.T) {
		// Together: each waits out its --shutdown-delay.
		var stopping sync.WaitGroup
		stopping.Go(a.stop)
		stopping.Go(b.stop)
		stopping.Wait()
		pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{})
		testkit.Must(t, err)
		if testkit.HasSidecar(pod) {
			t.Fatal("injected with no webhook running")
		}
	})

	// The chart's ValidatingAdmissionPolicy runs inside the API server, so it
	// speaks up exactly when our webhook could not.
	warnings, warnClient := testkit.WarningClient(t, in.cp.Config)
	t.Run("with the webhook down, the validation policy warns about the uninjected pod", func(t *testing.T) {
		testkit.WaitFor(t, time.Minute, "the policy's warning", func() bool {
			pod, err := warnClient.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			testkit.Must(t, err)
			if testkit.HasSidecar(pod) {
				t.Fatal("injected with no webhook running")
			}
			return slices.ContainsFunc(warnings.Take(), isPolicyWarning)
		})
	})

	t.Run("with the webhook down, failurePolicy Fail rejects pods with a clear error", func(t *testing.T) {
		setFailurePolicy(t, client, admissionregistrationv1.Fail)
		var err error
		testkit.WaitFor(t, time.Minute, "pods are rejected", func() bool {
			_, err = client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err != nil
		})
		if want := `failed calling webhook "pods.sidekiq-probe.io"`; !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q, want one containing %q", err, want)
		}
	})

	t.Run("with the webhook back up, the validation policy flags nothing", func(t *testing.T) {
		in.startReplica(t, in.port)
		testkit.WaitFor(t, time.Minute, "the webhook injects again", func() bool {
			pod, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err == nil && testkit.HasSidecar(pod)
		})
		warnings.Take()
		pod, err := warnClient.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{})
		testkit.Must(t, err)
		if !testkit.HasSidecar(pod) {
			t.Fatal("not injected with the webhook back up")
		}
		if got := warnings.Take(); slices.ContainsFunc(got, isPolicyWarning) {
			t.Fatalf("the policy flagged an injected pod: %q", got)
		}
	})
}

// askedForInjection are the annotations of the tests' Sidekiq pods that
// ask for the sidecar (testkit.SidekiqPod copies them).
var askedForInjection = map[string]string{webhook.AnnotationInject: "true", webhook.AnnotationMaxJobSeconds: "30"}

// restricted makes pod meet Pod Security "restricted" on its own.
func restricted(pod *corev1.Pod) *corev1.Pod {
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].SecurityContext = &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
	}
	return pod
}

// isPolicyWarning tells the chart's ValidatingAdmissionPolicy's message.
func isPolicyWarning(text string) bool {
	return strings.Contains(text, "was not injected by the sidekiq-probe webhook")
}

// webhookName is the chart's webhook, as the API server's metrics name it.
const webhookName = "pods.sidekiq-probe.io"

// webhookCalls is how many times the API server has called our webhook for
// pod creations, from its own admission duration histogram.
func webhookCalls(t *testing.T, client kubernetes.Interface) float64 {
	return apiServerCounter(t, client, "apiserver_admission_webhook_admission_duration_seconds_count")
}

// matchExclusions is how many requests our webhook's matchConditions kept
// from it.
func matchExclusions(t *testing.T, client kubernetes.Interface) float64 {
	return apiServerCounter(t, client, "apiserver_admission_match_condition_exclusions_total")
}

// apiServerCounter sums the API server's samples of metric for our webhook
// and pod creations, over their other labels.
func apiServerCounter(t *testing.T, client kubernetes.Interface, metric string) float64 {
	t.Helper()
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	testkit.Must(t, err)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		rest, isMetric := strings.CutPrefix(line, metric+"{")
		labels, value, ok := strings.Cut(rest, "} ")
		if !isMetric || !ok || !strings.Contains(labels, `name="`+webhookName+`"`) || !strings.Contains(labels, `operation="CREATE"`) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
