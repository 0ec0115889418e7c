package e2e

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

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
	want, err := client.CoreV1().Pods(unlabelled).Create(ctx, out, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	testkit.Must(t, err)
	if !equality.Semantic.DeepEqual(stored(got), stored(want)) {
		t.Fatalf("the pod created through the API server differs from webhook/testdata/%s.out.yaml as the API server stores it (- got, + want):\n%s",
			name, diff.Diff(stored(got), stored(want)))
	}

	// The comparison sees a mutation at all: the uninjected input, stored
	// the same way, must differ.
	plainIn := goldenPod(t, name+".in.yaml")
	plainIn.Name = name
	plain, err := client.CoreV1().Pods(unlabelled).Create(ctx, plainIn, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	testkit.Must(t, err)
	if equality.Semantic.DeepEqual(stored(plain), stored(want)) {
		t.Fatalf("the golden output of %s stores like its input: the comparison proves nothing", name)
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
