package chart_test

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

func TestValidationPolicy_Actions(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		extra []string
		want  []admissionregistrationv1.ValidationAction
	}{
		"by default it warns and audits, never blocks": {
			nil, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Warn, admissionregistrationv1.Audit},
		},
		"Deny can be chosen": {
			[]string{"--set-json", `validation.actions=["Deny"]`}, []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.extra...)
			policy := only[*admissionregistrationv1.ValidatingAdmissionPolicy](t, objs)
			binding := only[*admissionregistrationv1.ValidatingAdmissionPolicyBinding](t, objs)
			if binding.Spec.PolicyName != policy.Name {
				t.Errorf("binding binds %q, want %q", binding.Spec.PolicyName, policy.Name)
			}
			if !slices.Equal(binding.Spec.ValidationActions, tc.want) {
				t.Errorf("validationActions %v, want %v", binding.Spec.ValidationActions, tc.want)
			}
		})
	}
}

// The policy checks the pods the webhook should have mutated: the same
// namespaces, pods created, annotated for injection.
func TestValidationPolicy_MatchesWhatTheWebhookMutates(t *testing.T) {
	t.Parallel()
	objs := render(t)
	policy := only[*admissionregistrationv1.ValidatingAdmissionPolicy](t, objs)
	mutating := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs).Webhooks[0]
	spec := policy.Spec

	if got := deref(spec.FailurePolicy); got != admissionregistrationv1.Ignore {
		t.Errorf("failurePolicy %q, want Ignore (a broken policy must not block pods)", got)
	}
	match := spec.MatchConstraints
	if match == nil || match.NamespaceSelector == nil {
		t.Fatal("want matchConstraints with a namespaceSelector")
	}
	if match.NamespaceSelector.String() != mutating.NamespaceSelector.String() {
		t.Errorf("policy namespaceSelector %v, want the webhook's %v", match.NamespaceSelector, mutating.NamespaceSelector)
	}
	if len(match.ResourceRules) != 1 || !ruleEqual(match.ResourceRules[0].RuleWithOperations, mutating.Rules[0]) {
		t.Errorf("policy rules %+v, want the webhook's %+v", match.ResourceRules, mutating.Rules)
	}

	conditions := map[string]string{}
	for _, c := range spec.MatchConditions {
		conditions[c.Name] = c.Expression
	}
	if want := "['" + webhook.AnnotationInject + "'] == 'true'"; !strings.Contains(conditions["annotated-for-injection"], want) {
		t.Errorf("want a match condition with %s, got %v", want, conditions)
	}

	// What the API server evaluates is covered by the e2e tests; here: one
	// validation that checks all three marks of an injected pod and says
	// what to check.
	if len(spec.Validations) != 1 {
		t.Fatalf("want one validation, got %d", len(spec.Validations))
	}
	v := spec.Validations[0]
	for _, variable := range []string{"hasSidecar", "sharesProcesses", "markedInjected"} {
		if !strings.Contains(v.Expression, "variables."+variable) {
			t.Errorf("validation %q does not check variables.%s", v.Expression, variable)
		}
	}
	// The CEL names what the webhook writes, as the Go code spells it.
	variables := map[string]string{}
	for _, v := range spec.Variables {
		variables[v.Name] = v.Expression
	}
	wants := map[string]string{
		"hasSidecar":      "c.name == '" + contract.ContainerName + "'",
		"sharesProcesses": "object.spec.shareProcessNamespace == true",
		"markedInjected":  "['" + webhook.AnnotationStatus + "'] == '" + webhook.StatusInjected + "'",
	}
	for name, want := range wants {
		if !strings.Contains(variables[name], want) {
			t.Errorf("variable %s = %q, want it to check %s", name, variables[name], want)
		}
	}
	for _, text := range []string{"sidekiq-probe.io/inject=true", "kubectl -n " + namespace} {
		if !strings.Contains(v.Message, text) || !strings.Contains(v.MessageExpression, text) {
			t.Errorf("message and messageExpression must both say %q:\n%s\n%s", text, v.Message, v.MessageExpression)
		}
	}
}

func TestValidationPolicy_CanBeTurnedOff(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "validation.enabled=false")
	n := len(all[*admissionregistrationv1.ValidatingAdmissionPolicy](objs)) +
		len(all[*admissionregistrationv1.ValidatingAdmissionPolicyBinding](objs))
	if n != 0 {
		t.Errorf("rendered %d policy objects with validation.enabled=false, want none", n)
	}
}
