package testkit

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// SidekiqPod is a pod of one Sidekiq container (bundle exec sidekiq,
// REDIS_URL set) with a copy of the given annotations, named by the API
// server; opts change it further. It is the one pod builder of the tests.
func SidekiqPod(annotations map[string]string, opts ...PodOption) *corev1.Pod {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "worker-", Annotations: maps.Clone(annotations)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "worker", Image: "app:1", Command: []string{"bundle", "exec", "sidekiq"},
			Env: []corev1.EnvVar{{Name: "REDIS_URL", Value: "redis://redis:6379/0"}},
		}}},
	}
	for _, opt := range opts {
		opt(pod)
	}
	return pod
}

// PodOption changes a pod SidekiqPod builds.
type PodOption func(*corev1.Pod)

// Named gives the pod a fixed name instead of a generated one.
func Named(name string) PodOption {
	return func(pod *corev1.Pod) { pod.GenerateName, pod.Name = "", name }
}

// GracePeriod sets the pod's terminationGracePeriodSeconds.
func GracePeriod(seconds int64) PodOption {
	return func(pod *corev1.Pod) { pod.Spec.TerminationGracePeriodSeconds = ptr.To(seconds) }
}

// LooksInjected gives the pod what those who read an injected pod later
// (the doctor, the chart's admission policy) look for: the sidecar as a
// native sidecar, a shared process namespace and the status annotation,
// given as statusKey and statusValue since testkit cannot import package
// webhook (its tests import testkit). It is not the webhook's whole output:
// tests of the mutation run the webhook.
func LooksInjected(statusKey, statusValue string) PodOption {
	return func(pod *corev1.Pod) {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[statusKey] = statusValue
		pod.Spec.ShareProcessNamespace = ptr.To(true)
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{
			Name: contract.ContainerName, Image: "sidekiq-probe/sidekiq-probe:test",
			RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		})
	}
}

// HasSidecar says whether pod holds the injected sidecar, as an init
// container (native sidecar) or as a container.
func HasSidecar(pod *corev1.Pod) bool {
	isSidecar := func(c corev1.Container) bool { return c.Name == contract.ContainerName }
	return slices.ContainsFunc(pod.Spec.InitContainers, isSidecar) || slices.ContainsFunc(pod.Spec.Containers, isSidecar)
}
