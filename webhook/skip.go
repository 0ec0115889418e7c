package webhook

// SkipReason says why a pod was left as it was. The zero value, NotSkipped,
// means the pod was injected. Logs, metrics and warnings use String().
type SkipReason int

const (
	NotSkipped SkipReason = iota
	// NotAnnotated: the pod has no AnnotationInject.
	NotAnnotated
	// AnnotatedFalse: AnnotationInject is "false".
	AnnotatedFalse
	// AlreadyInjected: the pod already had everything the mutation adds.
	AlreadyInjected
	// MirrorPod: the API's mirror of a static pod; the kubelet ignores edits.
	MirrorPod
	// OwnNamespace: the webhook's own namespace, never injected so the webhook
	// can never block its own pods.
	OwnNamespace
	// NotPodCreate: the request is not the creation of a pod.
	NotPodCreate
	// NoPodTemplate: the object is not a kind that holds a pod template.
	NoPodTemplate
)

var skipReasons = [...]struct{ name, text string }{
	NotSkipped:      {"not_skipped", "injected"},
	NotAnnotated:    {"not_annotated", "no " + AnnotationInject + " annotation"},
	AnnotatedFalse:  {"annotated_false", AnnotationInject + " is \"false\""},
	AlreadyInjected: {"already_injected", "the pod is already injected"},
	MirrorPod:       {"mirror_pod", "mirror pods of static pods are never injected"},
	OwnNamespace:    {"own_namespace", "pods of the webhook's own namespace are never injected"},
	NotPodCreate:    {"not_pod_create", "only the creation of a pod is injected"},
	NoPodTemplate:   {"no_pod_template", "the object holds no pod template"},
}

// String is a stable snake_case name, fit for a metric label.
func (r SkipReason) String() string {
	if r < 0 || int(r) >= len(skipReasons) {
		return "unknown"
	}
	return skipReasons[r].name
}

// Text is a sentence for people (logs, warnings).
func (r SkipReason) Text() string {
	if r < 0 || int(r) >= len(skipReasons) {
		return "unknown reason"
	}
	return skipReasons[r].text
}
