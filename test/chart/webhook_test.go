package chart_test

import (
	"encoding/base64"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// mutatingWebhook renders the chart and returns its only webhook.
func mutatingWebhook(t *testing.T, extra ...string) admissionregistrationv1.MutatingWebhook {
	t.Helper()
	mwc := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, render(t, extra...))
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("want one webhook, got %d", len(mwc.Webhooks))
	}
	return mwc.Webhooks[0]
}

func TestWebhookConfiguration_Defaults(t *testing.T) {
	t.Parallel()
	wh := mutatingWebhook(t)

	wantRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
			Scope: ptr.To(admissionregistrationv1.NamespacedScope),
		},
	}}
	if !slices.EqualFunc(wh.Rules, wantRules, ruleEqual) {
		t.Errorf("rules %+v, want CREATE of pods only", wh.Rules)
	}
	svc := wh.ClientConfig.Service
	if svc == nil {
		t.Fatal("want the webhook called through the chart's Service by default")
	}
	checks := map[string]struct{ got, want any }{
		"sideEffects":             {deref(wh.SideEffects), admissionregistrationv1.SideEffectClassNone},
		"reinvocationPolicy":      {deref(wh.ReinvocationPolicy), admissionregistrationv1.IfNeededReinvocationPolicy},
		"timeoutSeconds":          {deref(wh.TimeoutSeconds), int32(5)},
		"failurePolicy":           {deref(wh.FailurePolicy), admissionregistrationv1.Ignore},
		"admissionReviewVersions": {len(wh.AdmissionReviewVersions) == 1 && wh.AdmissionReviewVersions[0] == "v1", true},
		"no caBundle":             {len(wh.ClientConfig.CABundle), 0},
		"no url":                  {wh.ClientConfig.URL == nil, true},
		"service path":            {deref(svc.Path), "/mutate-v1-pod"},
		"service port":            {deref(svc.Port), int32(443)},
	}
	for field, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", field, c.got, c.want)
		}
	}
}

// The API server skips the webhook for pods without the inject annotation
// (the e2e tests watch it do so); the condition must name the annotation the
// webhook reads, and not its value, so that a wrong value is still denied.
func TestWebhookConfiguration_OnlyPodsWithTheInjectAnnotation(t *testing.T) {
	t.Parallel()
	wh := mutatingWebhook(t)
	if len(wh.MatchConditions) != 1 {
		t.Fatalf("matchConditions %+v, want one", wh.MatchConditions)
	}
	want := "has(object.metadata.annotations) && '" + webhook.AnnotationInject + "' in object.metadata.annotations"
	if got := wh.MatchConditions[0].Expression; got != want {
		t.Errorf("matchCondition %q, want %q", got, want)
	}
}

func ruleEqual(a, b admissionregistrationv1.RuleWithOperations) bool {
	return slices.Equal(a.Operations, b.Operations) && slices.Equal(a.APIGroups, b.APIGroups) &&
		slices.Equal(a.APIVersions, b.APIVersions) && slices.Equal(a.Resources, b.Resources) &&
		deref(a.Scope) == deref(b.Scope)
}

func TestWebhookConfiguration_ValuesReachTheWebhook(t *testing.T) {
	t.Parallel()
	wh := mutatingWebhook(t, "--set", "webhook.failurePolicy=Fail", "--set", "webhook.timeoutSeconds=12")
	if got := deref(wh.FailurePolicy); got != admissionregistrationv1.Fail {
		t.Errorf("failurePolicy %q, want Fail", got)
	}
	if got := deref(wh.TimeoutSeconds); got != 12 {
		t.Errorf("timeoutSeconds %d, want 12", got)
	}
}

// The selector is checked by what it selects, like the API server does.
func TestWebhookConfiguration_NamespaceSelector(t *testing.T) {
	t.Parallel()
	defaults := mutatingWebhook(t).NamespaceSelector
	withTeam := mutatingWebhook(t, valuesFile(t, `
webhook:
  namespaceSelector:
    matchExpressions:
      - {key: team, operator: In, values: [payments]}
`)...).NamespaceSelector

	tests := map[string]struct {
		selector *metav1.LabelSelector
		labels   map[string]string
		want     bool
	}{
		"a labelled namespace is selected": {
			defaults, namespaceLabels("shop", webhook.NamespaceLabelEnabled), true,
		},
		"an unlabelled namespace is not": {
			defaults, map[string]string{"kubernetes.io/metadata.name": "shop"}, false,
		},
		"a namespace labelled disabled is not": {
			defaults, namespaceLabels("shop", "disabled"), false,
		},
		"kube-system is never selected, even labelled": {
			defaults, namespaceLabels("kube-system", "enabled"), false,
		},
		"the release namespace is never selected, even labelled": {
			defaults, namespaceLabels(namespace, "enabled"), false,
		},
		"extra expressions are ANDed: a matching namespace is selected": {
			withTeam, with(namespaceLabels("shop", "enabled"), "team", "payments"), true,
		},
		"extra expressions are ANDed: another team is not": {
			withTeam, with(namespaceLabels("shop", "enabled"), "team", "search"), false,
		},
		"extra expressions never re-admit the release namespace": {
			withTeam, with(namespaceLabels(namespace, "enabled"), "team", "payments"), false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := selects(t, tc.selector, tc.labels); got != tc.want {
				t.Errorf("selector %v on namespace labels %v: selected=%v, want %v", tc.selector, tc.labels, got, tc.want)
			}
		})
	}
}

// namespaceLabels are the labels of a namespace as the API server sets them
// (kubernetes.io/metadata.name) plus the injection label.
func namespaceLabels(name, injection string) map[string]string {
	return map[string]string{"kubernetes.io/metadata.name": name, webhook.NamespaceLabel: injection}
}

func with(m map[string]string, key, value string) map[string]string {
	m[key] = value
	return m
}

func selects(t *testing.T, selector *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatalf("invalid label selector %v: %v", selector, err)
	}
	return s.Matches(labels.Set(set))
}

// selectsMap is a Service-style selector: every key must match.
func selectsMap(selector, set map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(set))
}

// The e2e tests run the webhook outside the cluster and point the API server
// at it with a URL.
func TestWebhookConfiguration_URLReplacesTheService(t *testing.T) {
	t.Parallel()
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	url := "https://127.0.0.1:9443/mutate-v1-pod"
	wh := mutatingWebhook(t,
		"--set", "webhook.clientConfig.url="+url,
		"--set", "webhook.caBundle="+base64.StdEncoding.EncodeToString(ca))

	if wh.ClientConfig.Service != nil {
		t.Errorf("want no service reference with a URL, got %+v", wh.ClientConfig.Service)
	}
	if got := deref(wh.ClientConfig.URL); got != url {
		t.Errorf("url %q, want %q", got, url)
	}
	if string(wh.ClientConfig.CABundle) != string(ca) {
		t.Errorf("caBundle %q, want %q", wh.ClientConfig.CABundle, ca)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
