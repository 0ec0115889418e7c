package webhook

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// Config is what one pod asks for: its annotations parsed, checked and
// completed with defaults. Parsing is the only place that reads annotations.
type Config struct {
	// Container is the index of the Sidekiq container in spec.containers.
	Container               int
	MaxJobSeconds           int
	ShutdownTimeoutSeconds  int
	Port                    int32
	QuietSignal             string
	RedisURLEnv             string
	HeartbeatTimeoutSeconds int
}

// sidekiqDefaultTimeout is Sidekiq's own default for -t.
const sidekiqDefaultTimeout = 25

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParsePod reads a pod's annotations exactly as the admission handler does,
// for tools that inspect pods already in the cluster (the doctor command).
// The error, if any, is the *InvalidError the webhook would deny the pod with.
func ParsePod(pod *corev1.Pod, opts Options) (Config, error) {
	cfg, _, err := parseConfig(&pod.ObjectMeta, &pod.Spec, opts)
	return cfg, err
}

// parseConfig reads the annotations of a pod that asked for injection. The
// error, if any, is an *InvalidError; warnings say which defaults were guessed.
func parseConfig(meta *metav1.ObjectMeta, spec *corev1.PodSpec, opts Options) (Config, []string, error) {
	a := meta.Annotations
	var warnings []string
	cfg := Config{}

	if err := checkPodSpec(meta, spec); err != nil {
		return cfg, nil, err
	}

	i, err := sidekiqContainer(a[AnnotationContainer], spec)
	if err != nil {
		return cfg, nil, err
	}
	cfg.Container = i
	sidekiq := &spec.Containers[i]

	if cfg.MaxJobSeconds, err = maxJobSecondsOf(a, opts, &warnings); err != nil {
		return cfg, nil, err
	}
	timeout, warning, err := shutdownTimeoutOf(a, sidekiq)
	if err != nil {
		return cfg, nil, err
	}
	cfg.ShutdownTimeoutSeconds = timeout
	if warning != "" {
		warnings = append(warnings, warning)
	}
	if cfg.Port, err = portOf(a, spec); err != nil {
		return cfg, nil, err
	}
	if cfg.QuietSignal, err = quietSignalOf(a); err != nil {
		return cfg, nil, err
	}
	if cfg.RedisURLEnv, err = redisURLEnvOf(a); err != nil {
		return cfg, nil, err
	}
	cfg.HeartbeatTimeoutSeconds = contract.DefaultHeartbeatTimeoutSeconds
	if v, ok := a[AnnotationHeartbeatTimeoutSeconds]; ok {
		if cfg.HeartbeatTimeoutSeconds, err = parseInt(AnnotationHeartbeatTimeoutSeconds, v, heartbeatTimeoutRange); err != nil {
			return cfg, nil, err
		}
	}
	return cfg, warnings, nil
}

// maxJobSecondsOf is the annotation's value, else the webhook's default
// with a warning.
func maxJobSecondsOf(a map[string]string, opts Options, warnings *[]string) (int, error) {
	if v, ok := a[AnnotationMaxJobSeconds]; ok {
		return parseInt(AnnotationMaxJobSeconds, v, maxJobRange)
	}
	*warnings = append(*warnings, fmt.Sprintf("%s is not set: assuming jobs take at most %d seconds",
		AnnotationMaxJobSeconds, opts.DefaultMaxJobSeconds))
	return opts.DefaultMaxJobSeconds, nil
}

// portOf is the sidecar's port: the annotation's, else the default, and
// free in the pod.
func portOf(a map[string]string, spec *corev1.PodSpec) (int32, error) {
	port := int32(contract.DefaultPort)
	if v, ok := a[AnnotationPort]; ok {
		p, err := parseInt(AnnotationPort, v, portRange)
		if err != nil {
			return port, err
		}
		port = int32(p)
	}
	return port, checkPortFree(port, spec)
}

func quietSignalOf(a map[string]string) (string, error) {
	v, ok := a[AnnotationQuietSignal]
	if !ok {
		return contract.DefaultQuietSignal, nil
	}
	if v != "TSTP" && v != "USR1" {
		return "", &InvalidError{Field: AnnotationQuietSignal, Value: v,
			Accepted: `"TSTP", or "USR1" for Sidekiq < 5`}
	}
	return v, nil
}

func redisURLEnvOf(a map[string]string) (string, error) {
	v, ok := a[AnnotationRedisURLEnv]
	if !ok {
		return contract.DefaultRedisURLEnv, nil
	}
	if !envNameRE.MatchString(v) {
		return "", &InvalidError{Field: AnnotationRedisURLEnv, Value: v,
			Accepted: "an environment variable name: letters, digits and _, not starting with a digit"}
	}
	return v, nil
}

// sidekiqContainer finds the index of the Sidekiq container, by name when
// the annotation gives one, else by the rules of AnnotationContainer.
func sidekiqContainer(name string, spec *corev1.PodSpec) (int, error) {
	var candidates []int // every container but our sidecar
	var names []string
	for i, c := range spec.Containers {
		if c.Name != contract.ContainerName {
			candidates = append(candidates, i)
			names = append(names, strconv.Quote(c.Name))
		}
	}
	if len(names) == 0 {
		return 0, &InvalidError{Field: "spec.containers", Value: "",
			Accepted: "a pod with a Sidekiq container besides " + contract.ContainerName}
	}
	accepted := "the name of one of the pod's containers: " + strings.Join(names, ", ")
	if name != "" {
		for _, i := range candidates {
			if spec.Containers[i].Name == name {
				return i, nil
			}
		}
		return 0, &InvalidError{Field: AnnotationContainer, Value: name, Accepted: accepted}
	}
	if len(candidates) == 1 {
		return candidates[0], nil
	}
	for _, i := range candidates {
		if sidekiqWords(&spec.Containers[i]) != nil {
			return i, nil
		}
	}
	return 0, &InvalidError{Field: AnnotationContainer, Value: "",
		Accepted: accepted + " (no container's command runs sidekiq, so it must be named)"}
}

// shutdownTimeoutOf takes the annotation, else Sidekiq's -t flag, else 25.
// A -t value that is not a plain number (a "$TIMEOUT" in a script) cannot be
// read here, so it only earns a warning, not a denial.
func shutdownTimeoutOf(a map[string]string, sidekiq *corev1.Container) (n int, warning string, err error) {
	if v, ok := a[AnnotationShutdownTimeoutSeconds]; ok {
		n, err := parseInt(AnnotationShutdownTimeoutSeconds, v, shutdownTimeoutRange)
		return n, "", err
	}
	v, ok := shutdownTimeout(sidekiqWords(sidekiq))
	if !ok {
		return sidekiqDefaultTimeout, "", nil
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < shutdownTimeoutRange.min || n > shutdownTimeoutRange.max {
		return sidekiqDefaultTimeout, fmt.Sprintf("cannot read Sidekiq's timeout %q from container %q: assuming %d seconds; set %s",
			v, sidekiq.Name, sidekiqDefaultTimeout, AnnotationShutdownTimeoutSeconds), nil
	}
	return n, "", nil
}

// checkPortFree denies a port another container already declares: the gem
// sidekiq_alive and Sidekiq Enterprise's health check both listen on 7433.
func checkPortFree(port int32, spec *corev1.PodSpec) error {
	for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range cs {
			c := &cs[i]
			if c.Name == contract.ContainerName {
				continue
			}
			for _, p := range c.Ports {
				if p.ContainerPort == port {
					return &InvalidError{Field: AnnotationPort, Value: strconv.Itoa(int(port)),
						Accepted: fmt.Sprintf("an integer %s that no container declares (container %q declares %d)",
							portRange, c.Name, port)}
				}
			}
		}
	}
	return nil
}

func parseInt(key, v string, r intRange) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < r.min || n > r.max {
		return 0, &InvalidError{Field: key, Value: v, Accepted: "an integer " + r.String()}
	}
	return n, nil
}
