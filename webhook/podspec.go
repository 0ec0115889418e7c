package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// checkPodSpec denies the pods the sidecar cannot work in, before any
// annotation is read: injecting them would only make a pod the API server
// rejects, or one whose probes and preStop hook do something else.
func checkPodSpec(meta *metav1.ObjectMeta, spec *corev1.PodSpec) error {
	switch {
	case spec.ShareProcessNamespace != nil && !*spec.ShareProcessNamespace:
		return &InvalidError{Field: "spec.shareProcessNamespace", Value: "false",
			Accepted: "true or unset: the sidecar must see the Sidekiq process to signal it"}
	case spec.HostPID:
		return &InvalidError{Field: "spec.hostPID", Value: "true",
			Accepted: "false or unset: the sidecar needs shareProcessNamespace, which the API server refuses together with hostPID"}
	case spec.HostNetwork:
		return &InvalidError{Field: "spec.hostNetwork", Value: "true",
			Accepted: "false or unset: on the host network the sidecar's port, /prestop included, would be the node's"}
	case spec.OS != nil && spec.OS.Name == corev1.Windows:
		return &InvalidError{Field: "spec.os.name", Value: string(spec.OS.Name),
			Accepted: `"linux" or unset: the sidecar is a Linux container that reads Sidekiq's processes in /proc`}
	}
	if meta.Annotations[AnnotationStatus] == StatusInjected {
		return nil
	}
	// Only the webhook adds a sidekiq-probe container, and always with the
	// status annotation; anyone else's would be rewritten into ours.
	lists := []struct {
		field string
		cs    []corev1.Container
	}{{"spec.initContainers", spec.InitContainers}, {"spec.containers", spec.Containers}}
	for _, l := range lists {
		for i, c := range l.cs {
			if c.Name == contract.ContainerName {
				return &InvalidError{Field: fmt.Sprintf("%s[%d].name", l.field, i), Value: contract.ContainerName,
					Accepted: fmt.Sprintf("another name: %q is the sidecar's, and this pod has no %s: %s annotation, so the webhook did not add it",
						contract.ContainerName, AnnotationStatus, StatusInjected)}
			}
		}
	}
	return nil
}
