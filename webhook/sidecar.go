package webhook

import (
	"fmt"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// sidecarCommand is the sidecar binary in the image; the image's entrypoint
// is the webhook, both binaries sharing one image.
var sidecarCommand = []string{"/sidekiq-probe"}

// portName names the sidecar's container port. Probes refer to the port by
// number, not by name, because a named port resolves only against the
// container that declares it and the probes live on the Sidekiq container.
const portName = "sidekiq-probe"

// completeSidecar makes c the probe sidecar for cfg. It resets what the
// webhook owns (image, command, args, port and its environment) and fills
// what the user may tune (resources, security context) only when unset, so
// running it again on its own output changes nothing.
// It returns a warning when Sidekiq's Redis URL variable is nowhere declared.
func completeSidecar(c, sidekiq *corev1.Container, uid *int64, cfg Config, token string, opts Options) (warning string) {
	c.Name = contract.ContainerName
	c.Image = opts.SidecarImage
	c.Command = slices.Clone(sidecarCommand)
	// Flags win over the environment: a user's --port=9999 would break
	// every probe, so no argument survives.
	c.Args = nil
	c.Ports = []corev1.ContainerPort{{Name: portName, ContainerPort: cfg.Port, Protocol: corev1.ProtocolTCP}}

	env := sidecarEnv(cfg, token)
	redisURL, declared := lastEnv(sidekiq.Env, cfg.RedisURLEnv)
	if declared {
		// Exactly as Sidekiq gets it (value or valueFrom).
		env = append(env, *redisURL.DeepCopy())
	}
	c.Env = setEnv(c.Env, env)
	if !declared {
		// Else it may come from any of Sidekiq's envFrom sources.
		c.EnvFrom = mergeEnvFrom(c.EnvFrom, sidekiq.EnvFrom)
	}
	if !declared && len(sidekiq.EnvFrom) == 0 {
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

// sidecarEnv is the sidecar's settings, in the order they are added.
func sidecarEnv(cfg Config, token string) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: contract.EnvPodName, ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: contract.EnvPort, Value: strconv.Itoa(int(cfg.Port))},
		{Name: contract.EnvMaxJobSeconds, Value: strconv.Itoa(cfg.MaxJobSeconds)},
		{Name: contract.EnvShutdownTimeoutSeconds, Value: strconv.Itoa(cfg.ShutdownTimeoutSeconds)},
		{Name: contract.EnvHeartbeatTimeoutSeconds, Value: strconv.Itoa(cfg.HeartbeatTimeoutSeconds)},
		{Name: contract.EnvQuietSignal, Value: cfg.QuietSignal},
		{Name: contract.EnvRedisURLEnv, Value: cfg.RedisURLEnv},
		{Name: contract.EnvPreStopToken, Value: token},
	}
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

// lastEnv is the entry of that name the container gets: the last one.
func lastEnv(env []corev1.EnvVar, name string) (*corev1.EnvVar, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if env[i].Name == name {
			return &env[i], true
		}
	}
	return nil, false
}

// setEnv puts ours into env, in one pass: each of ours replaces the first
// entry of its name, where it stands, and later entries of that name are
// dropped (the last one would win); ours not yet there are appended in
// order. The user's other variables stay where they are.
func setEnv(env, ours []corev1.EnvVar) []corev1.EnvVar {
	index := make(map[string]int, len(ours))
	for i, e := range ours {
		index[e.Name] = i
	}
	placed := make([]bool, len(ours))
	out := make([]corev1.EnvVar, 0, len(env)+len(ours))
	for _, e := range env {
		i, owned := index[e.Name]
		switch {
		case !owned:
			out = append(out, e)
		case !placed[i]:
			out, placed[i] = append(out, ours[i]), true
		}
	}
	for i, e := range ours {
		if !placed[i] {
			out = append(out, e)
		}
	}
	return out
}

// mergeEnvFrom appends to have each source of add it does not hold yet,
// looked up in a set: a pod may list thousands of sources.
func mergeEnvFrom(have, add []corev1.EnvFromSource) []corev1.EnvFromSource {
	if len(add) == 0 {
		return have
	}
	seen := make(map[envFromKey]bool, len(have)+len(add))
	for _, s := range have {
		seen[keyOfEnvFrom(s)] = true
	}
	for _, s := range add {
		if k := keyOfEnvFrom(s); !seen[k] {
			seen[k] = true
			have = append(have, *s.DeepCopy())
		}
	}
	return have
}

// envFromKey holds every field of an EnvFromSource, pointers read through,
// so two sources have the same key exactly when they are semantically equal.
type envFromKey struct {
	prefix            string
	configMap, secret refKey
}

type refKey struct {
	set      bool
	name     string
	optional int8 // 0 unset, 1 false, 2 true
}

func keyOfEnvFrom(s corev1.EnvFromSource) envFromKey {
	k := envFromKey{prefix: s.Prefix}
	if r := s.ConfigMapRef; r != nil {
		k.configMap = refKey{set: true, name: r.Name, optional: optionalKey(r.Optional)}
	}
	if r := s.SecretRef; r != nil {
		k.secret = refKey{set: true, name: r.Name, optional: optionalKey(r.Optional)}
	}
	return k
}

func optionalKey(b *bool) int8 {
	switch {
	case b == nil:
		return 0
	case !*b:
		return 1
	}
	return 2
}
