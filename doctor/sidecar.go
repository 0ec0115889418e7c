package doctor

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// checkSidecars: a running injected pod whose sidecar is not ready is not
// probed the way it should be (and fails its own readiness).
func checkSidecars(c *cluster) []Finding {
	if c.podsErr != nil {
		return nil // checkPodsInjected reports it
	}
	var findings []Finding
	running := 0
	for i := range c.pods {
		pod := &c.pods[i]
		if !injected(pod) || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		running++
		status, ok := containerStatus(pod, contract.ContainerName)
		if ok && status.Ready {
			continue
		}
		detail := "no status for the " + contract.ContainerName + " container"
		if ok {
			detail = "sidecar not ready: " + describeState(status.State)
		}
		findings = append(findings, Finding{Check: CheckSidecarReady, Status: Warn,
			Object: object("pod", pod.Namespace, pod.Name), Detail: detail,
			Hint: fmt.Sprintf("kubectl -n %s logs %s -c %s; readiness fails while Sidekiq has no fresh heartbeat, is quiet, or Redis is unreachable",
				pod.Namespace, pod.Name, contract.ContainerName)})
	}
	if len(findings) == 0 {
		findings = append(findings, Finding{Check: CheckSidecarReady, Status: OK, Object: "pods " + c.scope(),
			Detail: fmt.Sprintf("%d running injected pods, every sidecar ready", running)})
	}
	return findings
}

// checkRestarts: a Sidekiq container restarted by its liveness probe was
// stuck (no heartbeat); that is the sidecar doing its job, but the cause
// deserves a look.
func checkRestarts(c *cluster) []Finding {
	if c.podsErr != nil {
		return nil
	}
	var findings []Finding
	for i := range c.pods {
		pod := &c.pods[i]
		if !injected(pod) {
			continue
		}
		name := sidekiqContainerName(pod, c.cfg)
		status, ok := containerStatus(pod, name)
		if !ok || status.RestartCount == 0 || status.LastTerminationState.Terminated == nil {
			continue
		}
		last := status.LastTerminationState.Terminated
		detail := fmt.Sprintf("container %s restarted %d times, last ended %s (%s, exit code %d)",
			name, status.RestartCount, stamp(last.FinishedAt.Time), last.Reason, last.ExitCode)
		hint := fmt.Sprintf("kubectl -n %s describe pod %s", pod.Namespace, pod.Name)
		events, err := c.events(pod)
		switch message := livenessMessage(events, name); {
		case err != nil:
			detail += fmt.Sprintf("; cannot read its events: %v", err)
		case message != "":
			detail = fmt.Sprintf("container %s restarted %d times by its liveness probe, last ended %s (exit code %d); kubelet: %s",
				name, status.RestartCount, stamp(last.FinishedAt.Time), last.ExitCode, message)
			hint = "Sidekiq stopped heartbeating: look at sidekiq_probe_heartbeat_age_seconds and sidekiq_probe_redis_up for the pod, and at " +
				fmt.Sprintf("kubectl -n %s logs %s -c %s --previous", pod.Namespace, pod.Name, name)
		default:
			detail += "; no liveness event found (the API keeps events for an hour)"
		}
		findings = append(findings, Finding{Check: CheckLivenessRestarts, Status: Warn,
			Object: object("pod", pod.Namespace, pod.Name), Detail: detail, Hint: hint})
	}
	if len(findings) == 0 {
		findings = append(findings, Finding{Check: CheckLivenessRestarts, Status: OK, Object: "pods " + c.scope(),
			Detail: "no Sidekiq container of an injected pod restarted"})
	}
	return findings
}

// livenessMessage is the newest kubelet event saying the container failed
// its liveness probe ("Unhealthy": "Liveness probe failed: ...", "Killing":
// "Container sidekiq failed liveness probe, will be restarted"), or "".
func livenessMessage(events []corev1.Event, container string) string {
	var newest *corev1.Event
	for i := range events {
		e := &events[i]
		about := e.InvolvedObject.FieldPath == "" || strings.Contains(e.InvolvedObject.FieldPath, "{"+container+"}")
		liveness := strings.Contains(strings.ToLower(e.Message), "liveness")
		if (e.Reason == "Unhealthy" || e.Reason == "Killing") && about && liveness {
			if newest == nil || eventTime(e).After(eventTime(newest)) {
				newest = e
			}
		}
	}
	if newest == nil {
		return ""
	}
	return newest.Message
}

// sidekiqContainerName finds the Sidekiq container as the webhook did, or
// falls back to the first container that is not the sidecar.
func sidekiqContainerName(pod *corev1.Pod, cfg Config) string {
	if parsed, err := webhook.ParsePod(pod, webhook.Options{DefaultMaxJobSeconds: cfg.DefaultMaxJobSeconds}); err == nil {
		return pod.Spec.Containers[parsed.Container].Name
	}
	for _, ctr := range pod.Spec.Containers {
		if ctr.Name != contract.ContainerName {
			return ctr.Name
		}
	}
	return ""
}

// containerStatus finds a container's status, native sidecars included.
func containerStatus(pod *corev1.Pod, name string) (corev1.ContainerStatus, bool) {
	all := slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses)
	i := slices.IndexFunc(all, func(s corev1.ContainerStatus) bool { return s.Name == name })
	if i < 0 {
		return corev1.ContainerStatus{}, false
	}
	return all[i], true
}

func describeState(s corev1.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return "waiting: " + s.Waiting.Reason
	case s.Terminated != nil:
		return fmt.Sprintf("terminated: %s, exit code %d", s.Terminated.Reason, s.Terminated.ExitCode)
	default:
		return "running, readiness probe failing"
	}
}

// eventTime is when an event last happened; kubelets fill one of the two
// fields depending on the events API they write through.
func eventTime(e *corev1.Event) time.Time {
	if !e.LastTimestamp.IsZero() {
		return e.LastTimestamp.Time
	}
	return e.EventTime.Time
}
