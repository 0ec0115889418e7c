package testkit

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// HasSidecar says whether pod holds the injected sidecar, as an init
// container (native sidecar) or as a container.
func HasSidecar(pod *corev1.Pod) bool {
	isSidecar := func(c corev1.Container) bool { return c.Name == contract.ContainerName }
	return slices.ContainsFunc(pod.Spec.InitContainers, isSidecar) || slices.ContainsFunc(pod.Spec.Containers, isSidecar)
}
