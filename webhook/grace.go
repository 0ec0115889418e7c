package webhook

import "sidekiq-probe.io/sidekiq-probe/contract"

// GracePeriodSeconds is the termination grace period the pod needs: the
// preStop hook waits up to MaxJobSeconds, then SIGTERM gives Sidekiq its own
// shutdown timeout, and the kubelet's SIGKILL must come after both.
func (c Config) GracePeriodSeconds() int64 {
	return int64(c.MaxJobSeconds + c.ShutdownTimeoutSeconds + contract.GraceMarginSeconds)
}
