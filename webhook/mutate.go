package webhook

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// Outcome says what Mutate did besides returning the template.
type Outcome struct {
	// Skip is NotSkipped when the template was injected (or completed).
	Skip SkipReason
	// Warnings are for the user: defaults assumed, settings of theirs kept.
	Warnings []string
}

// Mutate injects a pod template: a Pod's metadata and spec, or the template
// of a Deployment, Job, CronJob... It never changes tmpl; it returns a
// mutated copy, or tmpl itself when the template is skipped or already
// complete. The error, if any, is an *InvalidError: deny the pod with it.
// Mutate(Mutate(t)) returns its input unchanged.
func Mutate(tmpl *corev1.PodTemplateSpec, opts Options) (*corev1.PodTemplateSpec, Outcome, error) {
	skip, err := shouldInject(&tmpl.ObjectMeta)
	if err != nil || skip != NotSkipped {
		return tmpl, Outcome{Skip: skip}, err
	}
	cfg, warnings, err := parseConfig(&tmpl.ObjectMeta, &tmpl.Spec, opts)
	if err != nil {
		return tmpl, Outcome{}, err
	}
	token, err := preStopToken(&tmpl.Spec, opts.random())
	if err != nil {
		return tmpl, Outcome{}, err
	}
	out := tmpl.DeepCopy()
	warnings = append(warnings, apply(out, cfg, token, opts)...)
	if equality.Semantic.DeepEqual(tmpl, out) {
		return tmpl, Outcome{Skip: AlreadyInjected, Warnings: warnings}, nil
	}
	return out, Outcome{Warnings: warnings}, nil
}

// shouldInject decides from the metadata alone.
func shouldInject(meta *metav1.ObjectMeta) (SkipReason, error) {
	if _, ok := meta.Annotations[mirrorPodAnnotation]; ok {
		return MirrorPod, nil
	}
	v, ok := meta.Annotations[AnnotationInject]
	switch {
	case !ok:
		return NotAnnotated, nil
	case v == "false":
		return AnnotatedFalse, nil
	case v != "true":
		return NotSkipped, &InvalidError{Field: AnnotationInject, Value: v, Accepted: `"true" or "false"`}
	}
	return NotSkipped, nil
}

// apply is the mutation proper, on a copy. token is the pod's preStop
// token, shared by the sidecar and the Sidekiq container's preStop hook.
func apply(t *corev1.PodTemplateSpec, cfg Config, token string, opts Options) []string {
	spec := &t.Spec
	spec.ShareProcessNamespace = ptr.To(true)

	sidekiq := &spec.Containers[cfg.Container]
	warnings := setProbes(sidekiq, cfg.Port, token)
	uid := effectiveUID(sidekiq, spec.SecurityContext)
	if uid != nil && *uid == 0 {
		warnings = append(warnings, fmt.Sprintf("container %q runs as root, which the sidecar may not (Pod Security restricted): the sidecar runs as its image's user and cannot signal Sidekiq directly", sidekiq.Name))
	}

	// Complete the sidecar where it is, never add a second one.
	// (parseConfig denied a sidekiq-probe container the webhook did not add.)
	var redisWarning string
	switch c := findContainer(spec.InitContainers); {
	case c != nil:
		redisWarning = completeSidecar(c, sidekiq, uid, cfg, token, opts)
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	case findContainer(spec.Containers) != nil:
		redisWarning = completeSidecar(findContainer(spec.Containers), sidekiq, uid, cfg, token, opts)
	default:
		var c corev1.Container
		redisWarning = completeSidecar(&c, sidekiq, uid, cfg, token, opts)
		// Appended, not prepended: the indexes of the user's containers stay
		// put, and a native sidecar still starts after the user's init
		// containers but before Sidekiq.
		if opts.NativeSidecar {
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			spec.InitContainers = append(spec.InitContainers, c)
		} else {
			spec.Containers = append(spec.Containers, c)
		}
	}
	if redisWarning != "" {
		warnings = append(warnings, redisWarning)
	}

	grace := cfg.GracePeriodSeconds()
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < grace {
		spec.TerminationGracePeriodSeconds = ptr.To(grace)
	}

	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[AnnotationStatus] = StatusInjected
	return warnings
}

func findContainer(cs []corev1.Container) *corev1.Container {
	for i := range cs {
		if cs[i].Name == contract.ContainerName {
			return &cs[i]
		}
	}
	return nil
}
