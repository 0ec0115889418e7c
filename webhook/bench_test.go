package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// BenchmarkHandle measures one admission of a pod with n containers of 50
// environment variables each: decoding, mutation and the two diffs.
func BenchmarkHandle(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			pod := corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: "w", Annotations: map[string]string{AnnotationInject: "true"}},
			}
			for i := range n {
				c := corev1.Container{Name: fmt.Sprintf("c%d", i), Image: "app:1", Command: []string{"sidekiq"}}
				for j := range 50 {
					c.Env = append(c.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", j), Value: "x"})
				}
				pod.Spec.Containers = append(pod.Spec.Containers, c)
			}
			benchHandle(b, &pod)
		})
	}
}

// benchHandle measures h.Handle admitting pod, which must come back patched.
func benchHandle(b *testing.B, pod *corev1.Pod) {
	b.Helper()
	h, err := NewHandler(Options{SidecarImage: "img", NativeSidecar: true, DefaultMaxJobSeconds: 60}, "system")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		b.Fatal(err)
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create,
		Namespace: "shop", Object: runtime.RawExtension{Raw: raw},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if resp := h.Handle(context.Background(), req); !resp.Allowed || len(resp.Patches) == 0 {
			b.Fatalf("not patched: %+v", resp.Result)
		}
	}
}
