package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// Probe timings. The sidecar already applies the heartbeat timeout before
// it answers "not alive", so liveness needs only a short confirmation on top.
// Every field the API server would default is stated, so that a reinvoked
// webhook sees exactly what it wrote.
const (
	// Startup: a Rails app can take minutes to boot; allow 5 minutes
	// (5 s x 60) for Sidekiq's first heartbeat before liveness takes over.
	startupPeriod, startupFailures = 5, 60
	// Liveness: every 10 s, three failures in a row restart Sidekiq. Not one:
	// while the sidecar itself restarts (a crash, an OOM kill) the probe is
	// refused, and that must not take a healthy Sidekiq down with it. A stuck
	// Sidekiq is restarted within heartbeat timeout + 3 periods.
	livenessPeriod, livenessFailures = 10, 3
	// Readiness only gates rollouts (Sidekiq serves no traffic): every 10 s.
	readinessPeriod, readinessFailures = 10, 1
	// The sidecar answers from its last Redis read, but Redis round trips on
	// a busy node can stall it; 2 s is the floor, 5 s spares a needless restart.
	probeTimeout = 5
)

func httpGet(path string, port int32) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Path:   path,
		Port:   intstr.FromInt32(port), // by number: a port name resolves only in its own container
		Scheme: corev1.URISchemeHTTP,
	}}
}

func probe(path string, port int32, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:     httpGet(path, port),
		PeriodSeconds:    period,
		TimeoutSeconds:   probeTimeout,
		SuccessThreshold: 1,
		FailureThreshold: failures,
	}
}

// isOurs tells our own handler (from an earlier pass) from the user's.
func isOurs(h corev1.ProbeHandler, path string, port int32) bool {
	return h.HTTPGet != nil && h.HTTPGet.Path == path && h.HTTPGet.Port == intstr.FromInt32(port)
}

// setProbes gives the Sidekiq container its probes and preStop hook, keeping
// any the user set, with a warning. Our hook carries the pod's preStop
// token in its header: the kubelet sends it, and the sidecar answers
// /prestop to no one else.
func setProbes(c *corev1.Container, port int32, token string) []string {
	var warnings []string
	keep := func(what string) {
		warnings = append(warnings, fmt.Sprintf("container %q already has a %s: it is kept, the sidecar's is not used", c.Name, what))
	}
	set := func(p **corev1.Probe, what, path string, period, failures int32) {
		switch {
		case *p == nil:
			*p = probe(path, port, period, failures)
		case !isOurs((*p).ProbeHandler, path, port):
			keep(what)
		}
	}
	set(&c.StartupProbe, "startupProbe", contract.PathStartup, startupPeriod, startupFailures)
	set(&c.LivenessProbe, "livenessProbe", contract.PathLive, livenessPeriod, livenessFailures)
	set(&c.ReadinessProbe, "readinessProbe", contract.PathReady, readinessPeriod, readinessFailures)

	if c.Lifecycle == nil {
		c.Lifecycle = &corev1.Lifecycle{}
	}
	switch pre := c.Lifecycle.PreStop; {
	case pre == nil || isOurs(corev1.ProbeHandler{HTTPGet: pre.HTTPGet}, contract.PathPreStop, port):
		// Ours is rewritten whole: the header always carries this token.
		h := httpGet(contract.PathPreStop, port)
		h.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: contract.HeaderPreStopToken, Value: token}}
		c.Lifecycle.PreStop = &corev1.LifecycleHandler{HTTPGet: h.HTTPGet}
	default:
		warnings = append(warnings, fmt.Sprintf("container %q already has a preStop hook: it is kept, the sidecar's is not used;"+
			" the sidecar's /prestop answers only a request with header %s set to the sidecar's %s",
			c.Name, contract.HeaderPreStopToken, contract.EnvPreStopToken))
	}
	return warnings
}
