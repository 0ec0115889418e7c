package webhook

import (
	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// ParsePod reads a pod's annotations exactly as the admission handler does,
// for tools that inspect pods already in the cluster (the doctor command).
// The error, if any, is the *InvalidError the webhook would deny the pod with.
func ParsePod(pod *corev1.Pod, opts Options) (Config, error) {
	cfg, _, err := parseConfig(&pod.ObjectMeta, &pod.Spec, opts)
	return cfg, err
}

// GracePeriodSeconds is the termination grace period the pod needs: the
// preStop hook waits up to MaxJobSeconds, then SIGTERM gives Sidekiq its own
// shutdown timeout, and the kubelet's SIGKILL must come after both.
func (c Config) GracePeriodSeconds() int64 {
	return int64(c.MaxJobSeconds + c.ShutdownTimeoutSeconds + contract.GraceMarginSeconds)
}
