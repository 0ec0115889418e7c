package testkit

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// SidekiqPod is a pod of one Sidekiq container (bundle exec sidekiq,
// REDIS_URL set) with the given annotations, named by the API server.
func SidekiqPod(annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "worker-", Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "worker", Image: "app:1", Command: []string{"bundle", "exec", "sidekiq"},
			Env: []corev1.EnvVar{{Name: "REDIS_URL", Value: "redis://redis:6379/0"}},
		}}},
	}
}

// HasSidecar says whether pod holds the injected sidecar, as an init
// container (native sidecar) or as a container.
func HasSidecar(pod *corev1.Pod) bool {
	isSidecar := func(c corev1.Container) bool { return c.Name == contract.ContainerName }
	return slices.ContainsFunc(pod.Spec.InitContainers, isSidecar) || slices.ContainsFunc(pod.Spec.Containers, isSidecar)
}
