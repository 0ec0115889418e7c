package chart_test

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The webhook runs in namespaces that enforce Pod Security "restricted";
// these are that profile's checks, plus the read-only root filesystem the
// chart promises.
func TestDeployment_PassesPodSecurityRestricted(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"self-managed certificates": nil,
		"cert-manager":              {"--set", "certManager.enabled=true", "--api-versions", "cert-manager.io/v1"},
	}
	for name, extra := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dep := only[*appsv1.Deployment](t, render(t, extra...))
			for _, problem := range restrictedProblems(dep.Spec.Template.Spec) {
				t.Error(problem)
			}
		})
	}
}

// restrictedProblems lists what breaks the "restricted" Pod Security
// Standard (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
func restrictedProblems(spec corev1.PodSpec) []string {
	var problems []string
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		problems = append(problems, "pod shares a host namespace")
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	if pod.RunAsUser != nil && *pod.RunAsUser == 0 {
		problems = append(problems, "pod runAsUser is 0")
	}
	for _, v := range spec.Volumes {
		if !allowedVolume(v) {
			problems = append(problems, "volume "+v.Name+" has a type restricted forbids")
		}
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			problems = append(problems, c.Name+": no securityContext")
			continue
		}
		if deref(sc.Privileged) {
			problems = append(problems, c.Name+": privileged")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			problems = append(problems, c.Name+": allowPrivilegeEscalation is not false")
		}
		if !deref(sc.RunAsNonRoot) && !deref(pod.RunAsNonRoot) {
			problems = append(problems, c.Name+": runAsNonRoot is not true")
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			problems = append(problems, c.Name+": runAsUser is 0")
		}
		if !seccompConfined(sc.SeccompProfile) && !seccompConfined(pod.SeccompProfile) {
			problems = append(problems, c.Name+": seccompProfile is not RuntimeDefault or Localhost")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			problems = append(problems, c.Name+": capabilities do not drop ALL")
		} else if slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c != "NET_BIND_SERVICE" }) {
			problems = append(problems, c.Name+": adds a capability other than NET_BIND_SERVICE")
		}
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				problems = append(problems, c.Name+": uses a host port")
			}
		}
		if !deref(sc.ReadOnlyRootFilesystem) {
			problems = append(problems, c.Name+": root filesystem is writable (the chart promises read-only)")
		}
	}
	return problems
}

func seccompConfined(p *corev1.SeccompProfile) bool {
	return p != nil && (p.Type == corev1.SeccompProfileTypeRuntimeDefault || p.Type == corev1.SeccompProfileTypeLocalhost)
}

// allowedVolume reports the volume types "restricted" allows.
func allowedVolume(v corev1.Volume) bool {
	s := v.VolumeSource
	return s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil ||
		s.Ephemeral != nil || s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil
}
