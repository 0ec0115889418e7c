package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// goldenSidecarImage is the sidecar image of the golden cases
// (webhook/golden_test.go's testOptions); the chart is installed with it so
// that the webhook's output can equal the golden files exactly.
var goldenSidecarImage = []string{"--set", "sidecarImage.repository=sidekiq-probe/sidekiq-probe", "--set", "sidecarImage.tag=test"}

// checkGolden creates the golden case's input pod through the API server in
// labelled (so our webhook mutates it) and fails unless the stored pod equals
// the golden output.
//
// The API server defaults every pod before the webhook sees it and again
// after the webhook's patch, so the stored pod is default(Mutate(default(in)))
// while the golden file is Mutate(in). Comparing the two raw would fail on
// server defaults alone, and blanking fields by hand would hide whatever the
// blanking misses. So the golden output is sent through the same API server in
// unlabelled, where the webhook is not called, as a server-side dry run: that
// is default(Mutate(in)), the golden pod as the API server stores any pod. The
// two are equal exactly when the webhook, given the defaulted pod a real
// cluster sends it, makes the pod the golden file says. Only the fields that
// identify a stored object (uid, resourceVersion, creation time, managed
// fields, namespace) are cleared before comparing.
func checkGolden(t *testing.T, client kubernetes.Interface, labelled, unlabelled, name string) {
	t.Helper()
	ctx := t.Context()
	// Each case gets its own pod name (the golden files all say "worker");
	// the mutation does not depend on it.
	in, out := goldenPod(t, name+".in.yaml"), goldenPod(t, name+".out.yaml")
	in.Name, out.Name = name, name

	got, err := client.CoreV1().Pods(labelled).Create(ctx, in, metav1.CreateOptions{})
	testkit.Must(t, err)
	useToken(t, got, preStopToken(t, out))
	checkStored(t, client, got, unlabelled, out)

	// The comparison sees a mutation at all: the uninjected input, stored
	// the same way, must differ.
	want, err := client.CoreV1().Pods(unlabelled).Create(ctx, out, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	testkit.Must(t, err)
	plainIn := goldenPod(t, name+".in.yaml")
	plainIn.Name = name
	plain, err := client.CoreV1().Pods(unlabelled).Create(ctx, plainIn, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	testkit.Must(t, err)
	if equality.Semantic.DeepEqual(stored(plain), stored(want)) {
		t.Fatalf("the golden output of %s stores like its input: the comparison proves nothing", name)
	}
}

// preStopToken is the sidecar's preStop token; the Sidekiq container's
// preStop header, unless the pod kept a hook of its own, must be the same.
func preStopToken(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	env, header := tokenFields(pod)
	if env == nil || (header != nil && *header != *env) {
		t.Fatalf("pod %s: the sidecar's %s is missing or differs from the preStop hook's %s",
			pod.Name, contract.EnvPreStopToken, contract.HeaderPreStopToken)
	}
	return *env
}

// useToken puts token in place of the pod's own: the webhook draws a random
// one, the golden files have the fixed one of a fixed reader.
func useToken(t *testing.T, pod *corev1.Pod, token string) {
	t.Helper()
	if preStopToken(t, pod) == token {
		t.Fatalf("pod %s has the golden files' fixed token: the webhook must draw its own", pod.Name)
	}
	env, header := tokenFields(pod)
	*env = token
	if header != nil {
		*header = token
	}
}

// tokenFields points at the token's two places in pod, nil where absent.
func tokenFields(pod *corev1.Pod) (env, header *string) {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			for j := range cs[i].Env {
				if cs[i].Name == contract.ContainerName && cs[i].Env[j].Name == contract.EnvPreStopToken {
					env = &cs[i].Env[j].Value
				}
			}
			if l := cs[i].Lifecycle; l != nil && l.PreStop != nil && l.PreStop.HTTPGet != nil {
				for j, h := range l.PreStop.HTTPGet.HTTPHeaders {
					if h.Name == contract.HeaderPreStopToken {
						header = &l.PreStop.HTTPGet.HTTPHeaders[j].Value
					}
				}
			}
		}
	}
	return env, header
}

// checkStored fails unless got, a pod the API server stored, equals out (a
// golden output) as the API server stores it: out sent through unlabelled
// as a server-side dry run (see checkGolden).
func checkStored(t *testing.T, client kubernetes.Interface, got *corev1.Pod, unlabelled string, out *corev1.Pod) {
	t.Helper()
	want, err := client.CoreV1().Pods(unlabelled).Create(t.Context(), out, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	testkit.Must(t, err)
	if !equality.Semantic.DeepEqual(stored(got), stored(want)) {
		t.Fatalf("the pod created through the API server differs from webhook/testdata/%s.out.yaml as the API server stores it (- got, + want):\n%s",
			got.Name, diff.Diff(stored(got), stored(want)))
	}
}

// goldenPod reads a golden file (webhook/testdata) as a Pod.
func goldenPod(t *testing.T, file string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	testkit.Must(t, yaml.UnmarshalStrict(goldenFile(t, file), pod))
	return pod
}

// stored is pod without the fields that identify one stored object.
func stored(pod *corev1.Pod) *corev1.Pod {
	p := pod.DeepCopy()
	p.Namespace, p.UID, p.ResourceVersion, p.Generation = "", "", "", 0
	p.CreationTimestamp, p.ManagedFields = metav1.Time{}, nil
	return p
}
