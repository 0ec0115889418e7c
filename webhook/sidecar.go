package webhook

import (
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// sidecarCommand is the sidecar binary in the image; the image's entrypoint
// is the webhook, both binaries sharing one image.
var sidecarCommand = []string{"/sidekiq-probe"}

// completeSidecar makes c the probe sidecar for cfg. It sets what the
// webhook owns (image, command, its port and environment) and fills what the
// user may tune (resources, security context) only when unset, so running
// it again on its own output changes nothing.
// It returns a warning when Sidekiq's Redis URL variable is nowhere declared.
func completeSidecar(c, sidekiq *corev1.Container, uid *int64, cfg Config, opts Options) (warning string) {
	c.Name = contract.ContainerName
	c.Image = opts.SidecarImage
	c.Command = slices.Clone(sidecarCommand)
	setPort(c, corev1.ContainerPort{Name: contract.PortName, ContainerPort: cfg.Port, Protocol: corev1.ProtocolTCP})

	setEnv(c, corev1.EnvVar{Name: contract.EnvPodName, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}})
	setEnv(c, corev1.EnvVar{Name: contract.EnvPort, Value: strconv.Itoa(int(cfg.Port))})
	setEnv(c, corev1.EnvVar{Name: contract.EnvMaxJobSeconds, Value: strconv.Itoa(cfg.MaxJobSeconds)})
	setEnv(c, corev1.EnvVar{Name: contract.EnvHeartbeatTimeoutSeconds, Value: strconv.Itoa(cfg.HeartbeatTimeoutSeconds)})
	setEnv(c, corev1.EnvVar{Name: contract.EnvQuietSignal, Value: cfg.QuietSignal})
	setEnv(c, corev1.EnvVar{Name: contract.EnvRedisURLEnv, Value: cfg.RedisURLEnv})
	if !copyRedisURL(c, sidekiq, cfg.RedisURLEnv) {
		warning = fmt.Sprintf("container %q declares no %s, neither in env nor through envFrom: the sidecar falls back to its default Redis URL, as Sidekiq does",
			sidekiq.Name, cfg.RedisURLEnv)
	}

	if len(c.Resources.Requests) == 0 && len(c.Resources.Limits) == 0 {
		// The sidecar polls one Redis hash every few seconds: tiny, but the
		// memory limit keeps a leak from costing Sidekiq its node.
		c.Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("10m"),
				corev1.ResourceMemory: resource.MustParse("16Mi"),
			},
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")},
		}
	}
	if c.SecurityContext == nil {
		c.SecurityContext = restrictedSecurityContext(uid)
	}
	return warning
}

// restrictedSecurityContext passes Pod Security "restricted". The sidecar
// runs as Sidekiq's UID when known: a signal to another UID is refused even
// with CAP_KILL (capabilities are not effective for non-root users).
func restrictedSecurityContext(uid *int64) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if uid != nil && *uid != 0 {
		sc.RunAsUser = ptr.To(*uid)
	}
	return sc
}

// effectiveUID is the UID the container states, the pod's otherwise; nil
// when neither does (the image decides).
func effectiveUID(c *corev1.Container, pod *corev1.PodSecurityContext) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod != nil {
		return pod.RunAsUser
	}
	return nil
}

// copyRedisURL gives the sidecar the Redis URL exactly as Sidekiq gets it:
// the variable as declared (value or valueFrom), else the envFrom sources it
// may come from. It reports false when Sidekiq has neither.
func copyRedisURL(c, sidekiq *corev1.Container, name string) bool {
	for _, e := range sidekiq.Env {
		if e.Name == name {
			setEnv(c, *e.DeepCopy())
			return true
		}
	}
	for _, src := range sidekiq.EnvFrom {
		if !slices.ContainsFunc(c.EnvFrom, func(have corev1.EnvFromSource) bool {
			return equality.Semantic.DeepEqual(have, src)
		}) {
			c.EnvFrom = append(c.EnvFrom, *src.DeepCopy())
		}
	}
	return len(sidekiq.EnvFrom) > 0
}

// setEnv replaces the variable of that name, or appends it.
func setEnv(c *corev1.Container, e corev1.EnvVar) {
	for i := range c.Env {
		if c.Env[i].Name == e.Name {
			c.Env[i] = e
			return
		}
	}
	c.Env = append(c.Env, e)
}

// setPort replaces the port of that name, or appends it.
func setPort(c *corev1.Container, p corev1.ContainerPort) {
	for i := range c.Ports {
		if c.Ports[i].Name == p.Name {
			c.Ports[i] = p
			return
		}
	}
	c.Ports = append(c.Ports, p)
}
