package webhook

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

func TestParsePod_GivesTheGracePeriodTheMutationSets(t *testing.T) {
	tests := map[string]struct {
		annotations map[string]string
		args        []string
		want        int64
	}{
		"annotations set both times": {
			annotations: map[string]string{AnnotationMaxJobSeconds: "300", AnnotationShutdownTimeoutSeconds: "40"},
			want:        300 + 40 + contract.GraceMarginSeconds,
		},
		"the default max job and Sidekiq's -t flag": {
			args: []string{"bundle", "exec", "sidekiq", "-t", "20"},
			want: DefaultMaxJobSeconds + 20 + contract.GraceMarginSeconds,
		},
	}
	opts := Options{SidecarImage: "sidekiq-probe/sidekiq-probe:test", NativeSidecar: true, DefaultMaxJobSeconds: DefaultMaxJobSeconds}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			annotations := map[string]string{AnnotationInject: "true"}
			maps.Copy(annotations, tc.annotations)
			tmpl := &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Args: tc.args}}},
			}
			injected, _, err := Mutate(tmpl, opts)
			if err != nil {
				t.Fatal(err)
			}
			// The doctor reads pods after injection: parsing must still work.
			pod := &corev1.Pod{ObjectMeta: injected.ObjectMeta, Spec: injected.Spec}
			cfg, err := ParsePod(pod, opts)
			if err != nil {
				t.Fatalf("ParsePod on the injected pod: %v", err)
			}
			if got := cfg.GracePeriodSeconds(); got != tc.want || got != *pod.Spec.TerminationGracePeriodSeconds {
				t.Errorf("GracePeriodSeconds = %d, pod has %d, want %d", got, *pod.Spec.TerminationGracePeriodSeconds, tc.want)
			}
		})
	}
}
