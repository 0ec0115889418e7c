package webhook

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hugePod is an annotated pod whose Sidekiq container has envFrom sources
// and whose metadata has annotations, n of each: the shapes that once made
// the mutation quadratic.
func hugePod(envFrom, annotations int) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "w", Annotations: map[string]string{AnnotationInject: "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: "app:1", Command: []string{"sidekiq"}}}},
	}
	c := &pod.Spec.Containers[0]
	for i := range envFrom {
		c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{
			ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("cm-%d", i)}}})
	}
	for i := range annotations {
		pod.Annotations[fmt.Sprintf("example.com/a-%d", i)] = "x"
	}
	return pod
}

var hugeShapes = []struct {
	name                 string
	envFrom, annotations int
}{
	{"envFrom=5000", 5000, 0},
	{"envFrom=20000", 20000, 0},
	{"annotations=100000", 0, 100000},
}

// BenchmarkMutate_Huge is Mutate alone on the hostile shapes.
func BenchmarkMutate_Huge(b *testing.B) {
	for _, s := range hugeShapes {
		b.Run(s.name, func(b *testing.B) {
			pod := hugePod(s.envFrom, s.annotations)
			tmpl := &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
			opts := Options{SidecarImage: "img", NativeSidecar: true, DefaultMaxJobSeconds: 60}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Mutate(tmpl, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHandle_Huge is a whole admission (decode, mutate, patch) of the
// hostile shapes.
func BenchmarkHandle_Huge(b *testing.B) {
	for _, s := range hugeShapes {
		b.Run(s.name, func(b *testing.B) { benchHandle(b, hugePod(s.envFrom, s.annotations)) })
	}
}
