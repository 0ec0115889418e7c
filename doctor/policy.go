package doctor

import (
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// Policy mode (the chart's mode=policy): a MutatingAdmissionPolicy injects,
// validating policies deny and warn, and nothing runs but the API server.
// The objects are named after the release like the webhook configuration
// (--webhook-config), the validating policies with a suffix.
var validatingPolicySuffixes = []string{"-injected", "-denials", "-warnings"}

// policies is what policy mode reads, each object with its read error.
type policies struct {
	mutating      *admissionregistrationv1.MutatingAdmissionPolicy
	mutatingErr   error
	binding       *admissionregistrationv1.MutatingAdmissionPolicyBinding
	bindingErr    error
	tokenErr      error // reading the binding's parameter, the token Secret
	validating    []*admissionregistrationv1.ValidatingAdmissionPolicy
	validatingErr []error
}

// readPolicies reads the policies named after name.
func (c *cluster) readPolicies(name string) {
	api := c.client.AdmissionregistrationV1()
	p := &policies{}
	p.mutating, p.mutatingErr = api.MutatingAdmissionPolicies().Get(c.ctx, name, metav1.GetOptions{})
	p.binding, p.bindingErr = api.MutatingAdmissionPolicyBindings().Get(c.ctx, name, metav1.GetOptions{})
	if p.bindingErr == nil && p.binding.Spec.ParamRef != nil {
		ref := p.binding.Spec.ParamRef
		_, p.tokenErr = c.client.CoreV1().Secrets(ref.Namespace).Get(c.ctx, ref.Name, metav1.GetOptions{})
	}
	for _, suffix := range validatingPolicySuffixes {
		v, err := api.ValidatingAdmissionPolicies().Get(c.ctx, name+suffix, metav1.GetOptions{})
		p.validating, p.validatingErr = append(p.validating, v), append(p.validatingErr, err)
	}
	c.policies = p
}

// checkMutatingPolicy: does the API server inject, in the labelled
// namespaces, with its token? A binding that names another policy, a missing
// token Secret or a selector without the label injects nothing.
func checkMutatingPolicy(c *cluster) []Finding {
	p := c.policies
	name := c.cfg.WebhookConfig
	obj := object("mutatingadmissionpolicy", "", name)
	if p.mutatingErr != nil {
		return []Finding{unreadable(CheckMutatingPolicy, obj, p.mutatingErr)}
	}
	findings := []Finding{{Check: CheckMutatingPolicy, Status: OK, Object: obj,
		Detail: fmt.Sprintf("selects namespaces labelled %s=%s; failurePolicy %s", webhook.NamespaceLabel,
			webhook.NamespaceLabelEnabled, failurePolicy(p.mutating.Spec.FailurePolicy))}}
	if m := p.mutating.Spec.MatchConstraints; m == nil || !selectsLabel(m.NamespaceSelector) {
		findings[0].Status = Fail
		findings[0].Detail = fmt.Sprintf("its namespaceSelector does not require %s=%s", webhook.NamespaceLabel, webhook.NamespaceLabelEnabled)
		findings[0].Hint = "reinstall the chart (helm upgrade --install ... --set mode=policy)"
	}

	bobj := object("mutatingadmissionpolicybinding", "", name)
	b := Finding{Check: CheckMutatingPolicy, Status: OK, Object: bobj}
	switch {
	case p.bindingErr != nil:
		b = unreadable(CheckMutatingPolicy, bobj, p.bindingErr)
		b.Hint = "without its binding the policy injects nothing: reinstall the chart (helm upgrade --install ... --set mode=policy)"
	case p.binding.Spec.PolicyName != name:
		b.Status, b.Detail = Fail, fmt.Sprintf("binds policy %q, not %q", p.binding.Spec.PolicyName, name)
		b.Hint = "another release's binding? Pass --webhook-config, or reinstall the chart"
	case p.binding.Spec.ParamRef == nil:
		b.Status, b.Detail = Fail, "has no paramRef: the policy has no preStop token"
		b.Hint = "reinstall the chart (helm upgrade --install ... --set mode=policy)"
	case p.tokenErr != nil:
		ref := p.binding.Spec.ParamRef
		b = unreadable(CheckMutatingPolicy, object("secret", ref.Namespace, ref.Name), p.tokenErr)
		b.Detail = "the preStop token Secret the binding names: " + b.Detail
		b.Hint = "annotated pods are rejected (failurePolicy Fail) or not injected (Ignore) without it: helm upgrade the release, which creates it again"
	default:
		ref := p.binding.Spec.ParamRef
		b.Detail = fmt.Sprintf("binds %s with the preStop token of Secret %s/%s", name, ref.Namespace, ref.Name)
	}
	return append(findings, b)
}

// checkValidatingPolicies: the API server type-checks each validating
// policy's CEL (kube-controller-manager writes the result in its status);
// an error there means a check that never passes or never runs.
func checkValidatingPolicies(c *cluster) []Finding {
	var findings []Finding
	for i, suffix := range validatingPolicySuffixes {
		name := c.cfg.WebhookConfig + suffix
		obj := object("validatingadmissionpolicy", "", name)
		if err := c.policies.validatingErr[i]; err != nil {
			findings = append(findings, unreadable(CheckValidatingPolicy, obj, err))
			continue
		}
		f := Finding{Check: CheckValidatingPolicy, Status: OK, Object: obj, Detail: "type-checked without errors"}
		switch tc := c.policies.validating[i].Status.TypeChecking; {
		case tc == nil:
			f.Status, f.Detail = Warn, "not type-checked yet"
			f.Hint = "kube-controller-manager writes status.typeChecking within seconds; is it running?"
		case len(tc.ExpressionWarnings) > 0:
			var texts []string
			for _, w := range tc.ExpressionWarnings {
				texts = append(texts, w.FieldRef+": "+w.Warning)
			}
			f.Status, f.Detail = Fail, "type-checking found: "+strings.Join(texts, "; ")
			f.Hint = "reinstall the chart's version that matches this Kubernetes; report it if it persists"
		}
		findings = append(findings, f)
	}
	return findings
}

// selectsLabel reports whether a namespace selector requires the injection label.
func selectsLabel(s *metav1.LabelSelector) bool {
	if s == nil {
		return false
	}
	if s.MatchLabels[webhook.NamespaceLabel] == webhook.NamespaceLabelEnabled {
		return true
	}
	return slices.ContainsFunc(s.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool {
		return r.Key == webhook.NamespaceLabel && r.Operator == metav1.LabelSelectorOpIn &&
			slices.Equal(r.Values, []string{webhook.NamespaceLabelEnabled})
	})
}

func failurePolicy(p *admissionregistrationv1.FailurePolicyType) string {
	if p == nil {
		return string(admissionregistrationv1.Fail)
	}
	return string(*p)
}

// whyNotInjectedByPolicy is whyNotInjected in policy mode, once the
// namespace is known to be selected.
func (c *cluster) whyNotInjectedByPolicy(pod *corev1.Pod) (why, hint string) {
	p := c.policies
	created := pod.CreationTimestamp.Time
	switch {
	case p.mutatingErr != nil || p.bindingErr != nil:
		return "the MutatingAdmissionPolicy or its binding is missing", "reinstall the chart, " + recreate
	case created.Before(p.binding.CreationTimestamp.Time):
		return fmt.Sprintf("created %s, before the policy was bound (%s)", stamp(created), stamp(p.binding.CreationTimestamp.Time)), recreate
	case p.mutating.Spec.FailurePolicy != nil && *p.mutating.Spec.FailurePolicy == admissionregistrationv1.Ignore:
		return "the policy could not be evaluated (its token Secret missing, or the CEL cost limit) and failurePolicy Ignore admitted it without the sidecar",
			"see " + CheckMutatingPolicy + " and the API server's apiserver_admission_* metrics, " + recreate
	}
	return "the policy did not inject it (a pod created by a node, or the policy changed since)", recreate
}
