package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"sidekiq-probe.io/sidekiq-probe/webhook/internal/jsondiff"
)

// Result is what the handler answered.
type Result int

const (
	// Injected: allowed with a patch.
	Injected Result = iota
	// Unchanged: annotated, but already complete; allowed without a patch.
	Unchanged
	// Skipped: not for us (see SkipReason); allowed without a patch.
	Skipped
	// Denied: an annotation or field is invalid (see DenyField).
	Denied
	// Errored: the request could not be handled (bad body, internal error).
	Errored
)

var resultNames = [...]string{"injected", "unchanged", "skipped", "denied", "errored"}

// String is a stable name, fit for a metric label.
func (r Result) String() string {
	if r < 0 || int(r) >= len(resultNames) {
		return "unknown"
	}
	return resultNames[r]
}

// Decision is the account of one admission request, given to Observe.
type Decision struct {
	Result     Result
	SkipReason SkipReason // for Skipped and Unchanged
	DenyField  string     // for Denied: the annotation or field at fault
	Message    string     // for Denied and Errored: the reason given
	Warnings   []string
	// The pod; Name is often empty on creation, GenerateName then says whose.
	Namespace, Name, GenerateName string
}

// Path is where the API server sends pod admission reviews. It lives here,
// not in package server, so that the doctor and the chart's tests read it
// without importing the server.
const Path = "/mutate-v1-pod"

// Handler is the admission handler for pod creation.
type Handler struct {
	Options Options
	// OwnNamespace is the webhook's namespace, whose pods are never injected.
	OwnNamespace string
	// Observe, when set, is called once per request with the decision; it is
	// how the server logs and counts without the handler knowing how.
	Observe func(context.Context, Decision)

	// limits and budget bound the reviews ServeHTTP works on (SetLimits).
	limits  Limits
	budget  *budget
	waiting atomic.Int32 // reviews waiting for their share of budget
}

// NewHandler returns a Handler once the options are valid.
func NewHandler(opts Options, ownNamespace string) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{Options: opts, OwnNamespace: ownNamespace}
	if err := h.SetLimits(DefaultLimits()); err != nil {
		return nil, err
	}
	return h, nil
}

var _ admission.Handler = (*Handler)(nil)

// Handle implements admission.Handler. A dry run is answered like any other
// request: the handler has no side effects.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	resp, d := h.decide(ctx, req)
	d.Namespace, d.Name = req.Namespace, req.Name
	if h.Observe != nil {
		h.Observe(ctx, d)
	}
	return resp.WithWarnings(d.Warnings...)
}

// decide stops between its steps once ctx has ended: the API server has
// given up waiting, and a hostile pod must not keep the webhook busy.
func (h *Handler) decide(ctx context.Context, req admission.Request) (admission.Response, Decision) {
	if req.Operation != admissionv1.Create || req.Kind.Kind != "Pod" || req.SubResource != "" {
		return admission.Allowed(""), Decision{Result: Skipped, SkipReason: NotPodCreate}
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), Decision{Result: Errored, Message: err.Error()}
	}
	d := Decision{GenerateName: pod.GenerateName}
	if req.Namespace != "" && req.Namespace == h.OwnNamespace {
		d.Result, d.SkipReason = Skipped, OwnNamespace
		return admission.Allowed(""), d
	}

	if err := stopped(ctx, "the mutation"); err != nil {
		return timedOut(err)
	}

	tmpl := &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
	out, outcome, err := Mutate(tmpl, h.Options)
	d.Warnings = outcome.Warnings
	var invalid *InvalidError
	switch {
	case errors.As(err, &invalid):
		d.Result, d.DenyField, d.Message = Denied, invalid.Field, invalid.Error()
		return admission.Denied(d.Message), d
	case err != nil:
		d.Result, d.Message = Errored, err.Error()
		return admission.Errored(http.StatusInternalServerError, err), d
	case outcome.Skip == AlreadyInjected:
		d.Result, d.SkipReason = Unchanged, outcome.Skip
		return admission.Allowed(""), d
	case outcome.Skip != NotSkipped:
		d.Result, d.SkipReason = Skipped, outcome.Skip
		return admission.Allowed(""), d
	}

	if err := stopped(ctx, "the patch"); err != nil {
		return timedOut(err)
	}
	// A shallow copy is enough: Mutate returned its own metadata and spec,
	// and encoding the pod reads the rest without changing it.
	mutated := *pod
	mutated.ObjectMeta, mutated.Spec = out.ObjectMeta, out.Spec
	ops, err := jsondiff.Patch(req.Object.Raw, pod, &mutated)
	if err != nil {
		err = fmt.Errorf("computing the patch: %w", err)
		d.Result, d.Message = Errored, err.Error()
		return admission.Errored(http.StatusInternalServerError, err), d
	}
	d.Result = Injected
	return admission.Patched("", ops...), d
}

// decodePod reads the request's object with one decode (decodeJSON: as the
// API server's own JSON serializer reads it). controller-runtime's scheme
// decoder reads the whole document twice: once only to find its kind, then
// again. The API server always sends a webhook the object as JSON; anything
// else, or another kind, is a bad request.
func decodePod(raw []byte) (*corev1.Pod, error) {
	body := bytes.TrimLeft(raw, " \t\r\n")
	if len(body) == 0 {
		return nil, errors.New("request.object is empty: want a v1 Pod in JSON")
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("request.object is not a JSON object (it starts with %q): want a v1 Pod in JSON", body[0])
	}
	var pod corev1.Pod
	if err := decodeJSON(body, &pod); err != nil {
		return nil, fmt.Errorf("request.object is not a v1 Pod in JSON: %w", err)
	}
	// A missing kind or apiVersion is the request's (kind v1/Pod).
	if (pod.Kind != "" && pod.Kind != "Pod") || (pod.APIVersion != "" && pod.APIVersion != "v1") {
		return nil, fmt.Errorf("request.object: apiVersion %q, kind %q is not accepted: want apiVersion v1, kind Pod", pod.APIVersion, pod.Kind)
	}
	return &pod, nil
}
