package chart_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// kinds lists the rendered objects as "Kind name".
func kinds(objs []runtime.Object) map[string]bool {
	got := map[string]bool{}
	for _, obj := range objs {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		name := ""
		if m, ok := obj.(interface{ GetName() string }); ok {
			name = m.GetName()
		}
		got[kind+" "+name] = true
	}
	return got
}

func TestMode_PolicyRendersPoliciesAndNoWebhook(t *testing.T) {
	t.Parallel()
	got := kinds(render(t, "--set", "mode=policy"))
	for _, want := range []string{
		"MutatingAdmissionPolicy " + release,
		"MutatingAdmissionPolicyBinding " + release,
		"Secret " + release + "-prestop-token",
		"ValidatingAdmissionPolicy " + release + "-denials",
		"ValidatingAdmissionPolicyBinding " + release + "-denials",
		"ValidatingAdmissionPolicy " + release + "-warnings",
		"ValidatingAdmissionPolicyBinding " + release + "-warnings",
		"ValidatingAdmissionPolicy " + release + "-injected",
		"ValidatingAdmissionPolicyBinding " + release + "-injected",
	} {
		if !got[want] {
			t.Errorf("mode=policy does not render %s; it renders %v", want, got)
		}
	}
	for obj := range got {
		for _, kind := range []string{"Deployment ", "Service ", "MutatingWebhookConfiguration ", "ServiceAccount ",
			"Role ", "RoleBinding ", "ClusterRole ", "ClusterRoleBinding ", "PodDisruptionBudget "} {
			if strings.HasPrefix(obj, kind) {
				t.Errorf("mode=policy renders %s: no webhook object is needed", obj)
			}
		}
		if obj == "Secret "+release+"-webhook-certs" {
			t.Errorf("mode=policy renders the webhook's certificate Secret")
		}
	}
}

func TestMode_PolicyBindsTheSameNamespacesAndAnnotationAsTheWebhook(t *testing.T) {
	t.Parallel()
	webhookMode := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, render(t)).Webhooks[0]
	objs := render(t, "--set", "mode=policy")
	policy := only[*admissionregistrationv1.MutatingAdmissionPolicy](t, objs)
	binding := only[*admissionregistrationv1.MutatingAdmissionPolicyBinding](t, objs)

	if policy.Spec.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("reinvocationPolicy %q, want IfNeeded like the webhook", policy.Spec.ReinvocationPolicy)
	}
	match := policy.Spec.MatchConstraints
	if match == nil || match.NamespaceSelector.String() != webhookMode.NamespaceSelector.String() {
		t.Errorf("policy namespaceSelector %v, want the webhook's %v", match, webhookMode.NamespaceSelector)
	}
	if len(match.ResourceRules) != 1 || !ruleEqual(match.ResourceRules[0].RuleWithOperations, webhookMode.Rules[0]) {
		t.Errorf("policy rules %+v, want the webhook's %+v", match.ResourceRules, webhookMode.Rules)
	}
	// The mutating policy cannot have match conditions (see policy.yaml):
	// its expression checks the annotation first. The validating ones have
	// the webhook's.
	if n := len(policy.Spec.MatchConditions); n != 0 {
		t.Errorf("the MutatingAdmissionPolicy has %d match conditions: with one, it cannot copy env entries on 1.37.2", n)
	}
	if expr := policy.Spec.Mutations[0].JSONPatch.Expression; !strings.HasPrefix(expr, "variables.inject != 'true' ||") {
		t.Errorf("the mutation does not check the inject annotation first:\n%s", expr)
	}
	for _, v := range all[*admissionregistrationv1.ValidatingAdmissionPolicy](objs) {
		if v.Name == release+"-injected" {
			continue // the final-state check: pods annotated "true"
		}
		if len(v.Spec.MatchConditions) == 0 || v.Spec.MatchConditions[0] != webhookMode.MatchConditions[0] {
			t.Errorf("%s: match conditions %+v, want the webhook's %+v first", v.Name, v.Spec.MatchConditions, webhookMode.MatchConditions)
		}
	}
	if binding.Spec.PolicyName != policy.Name {
		t.Errorf("binding binds %q, want %q", binding.Spec.PolicyName, policy.Name)
	}
	ref := binding.Spec.ParamRef
	secret := only[*corev1.Secret](t, objs)
	if ref == nil || ref.Name != secret.Name || ref.Namespace != namespace {
		t.Fatalf("binding paramRef %+v, want the token Secret %s/%s", ref, namespace, secret.Name)
	}
	// Without matchConditions, Deny would reject every pod of the labelled
	// namespaces once the Secret is gone; the denials policy handles the
	// annotated ones (test/e2e).
	if a := deref(ref.ParameterNotFoundAction); a != admissionregistrationv1.AllowAction {
		t.Errorf("parameterNotFoundAction %q, want Allow", a)
	}
	if policy.Spec.ParamKind == nil || policy.Spec.ParamKind.Kind != "Secret" {
		t.Errorf("paramKind %+v, want v1 Secret", policy.Spec.ParamKind)
	}
}

func TestMode_PolicyTokenIsRandomAndLong(t *testing.T) {
	t.Parallel()
	token := func() string {
		return string(only[*corev1.Secret](t, render(t, "--set", "mode=policy")).Data["token"])
	}
	a, b := token(), token()
	if len(a) < 32 || a == b {
		t.Errorf("tokens %q and %q: want a new random one of at least 32 characters each time (no Secret to read back)", a, b)
	}
}

func TestMode_PolicyWithAnExistingTokenSecretCreatesNone(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "mode=policy", "--set", "policy.existingTokenSecret=mine")
	if n := len(all[*corev1.Secret](objs)); n != 0 {
		t.Errorf("rendered %d Secrets, want none", n)
	}
	if ref := only[*admissionregistrationv1.MutatingAdmissionPolicyBinding](t, objs).Spec.ParamRef; ref.Name != "mine" {
		t.Errorf("paramRef names %q, want mine", ref.Name)
	}
}

// A go-installed helm says v1.20 unless told; a real cluster says its own.
func TestMode_PolicyBelowKubernetes136FailsNamingTheWebhookMode(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"v1.30.0", "v1.35.9"} {
		_, err := helm(t, "template", release, chartDir, "--namespace", namespace, "--kube-version", version, "--set", "mode=policy")
		if err == nil || !strings.Contains(err.Error(), "mode=policy needs Kubernetes 1.36 or later") ||
			!strings.Contains(err.Error(), "mode=webhook") || !strings.Contains(err.Error(), version) {
			t.Errorf("Kubernetes %s: error %v, want one saying 1.36 is needed and naming mode=webhook", version, err)
		}
	}
	if _, err := helm(t, "template", release, chartDir, "--namespace", namespace, "--kube-version", "v1.36.0", "--set", "mode=policy"); err != nil {
		t.Errorf("Kubernetes 1.36: %v", err)
	}
}

func TestMode_WebhookIsTheDefaultAndRendersNoPolicy(t *testing.T) {
	t.Parallel()
	objs := render(t)
	only[*appsv1.Deployment](t, objs)
	if n := len(all[*admissionregistrationv1.MutatingAdmissionPolicy](objs)); n != 0 {
		t.Errorf("webhook mode renders %d MutatingAdmissionPolicies", n)
	}
	for _, s := range all[*corev1.Secret](objs) {
		if strings.Contains(s.Name, "token") {
			t.Errorf("webhook mode renders %s: its tokens are per pod", s.Name)
		}
	}
}

// The token is created on install and read back on upgrades: pods keep
// matching the policy's token across `helm upgrade`.
func TestMode_PolicyTokenSurvivesUpgrades(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	token := func() []byte {
		s, err := c.Client.CoreV1().Secrets(namespace).Get(t.Context(), release+"-prestop-token", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Data["token"]
	}
	c.helm(t, "install", release, chartDir, "--create-namespace", "--set", "mode=policy")
	installed := token()
	c.helm(t, "upgrade", release, chartDir, "--set", "mode=policy", "--set", "defaultMaxJobSeconds=90")
	if upgraded := token(); !bytes.Equal(upgraded, installed) || len(installed) < 32 {
		t.Errorf("token %q after install, %q after upgrade: want one token of at least 32 bytes, kept", installed, upgraded)
	}
}

// Switching modes is a `helm upgrade`: the webhook's objects go, the
// policies come (and back), and pods are injected by the API server itself.
func TestMode_SwitchingModesIsAnUpgrade(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	ctx := t.Context()
	c.helm(t, "install", release, chartDir, "--create-namespace")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{"sidekiq-probe.io/injection": "enabled"}}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	policyInjects := func() bool {
		pod, err := createPod(ctx, c.Client, "shop", testkit.SidekiqPod(askedForInjection))
		return err == nil && testkit.HasSidecar(pod)
	}

	c.helm(t, "upgrade", release, chartDir, "--set", "mode=policy")
	testkit.WaitFor(t, time.Minute, "the policy to inject", policyInjects)
	deployments, err := c.Client.AppsV1().Deployments(namespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(deployments.Items) != 0 {
		t.Errorf("after the upgrade to policy mode: deployments %v (%v), want none", deployments, err)
	}
	if _, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, release, metav1.GetOptions{}); err == nil {
		t.Error("after the upgrade to policy mode the MutatingWebhookConfiguration is still there")
	}

	c.helm(t, "upgrade", release, chartDir, "--set", "mode=webhook")
	policies, err := c.Client.AdmissionregistrationV1().MutatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
	if err != nil || len(policies.Items) != 0 {
		t.Errorf("after the upgrade back to webhook mode: policies %v (%v), want none", policies, err)
	}
	// No webhook runs here: with failurePolicy Ignore, pods go uninjected.
	testkit.WaitFor(t, time.Minute, "the policy to be gone", func() bool { return !policyInjects() })
}

// On a real cluster below 1.36 (the oldest the chart accepts), `helm
// install --set mode=policy` fails before creating anything, saying why and
// naming mode=webhook.
func TestMode_PolicyInstallFailsOnTheOldestTestedRelease(t *testing.T) {
	t.Parallel()
	c := startCluster(t, testcontrolplane.WithRelease(testcontrolplane.Oldest))
	out, err := helm(t, "install", release, chartDir, "--create-namespace", "--set", "mode=policy",
		"--kubeconfig", c.kubeconfig, "--namespace", namespace)
	if err == nil || !strings.Contains(err.Error(), "mode=policy needs Kubernetes 1.36 or later") ||
		!strings.Contains(err.Error(), "mode=webhook") || !strings.Contains(err.Error(), testcontrolplane.Oldest.Version) {
		t.Fatalf("helm install --set mode=policy on %s: %v\n%s\nwant a failure saying 1.36 is needed and naming mode=webhook",
			testcontrolplane.Oldest.Version, err, out)
	}
	secrets, err := c.Client.CoreV1().Secrets(namespace).List(t.Context(), metav1.ListOptions{})
	if err == nil && len(secrets.Items) != 0 {
		t.Errorf("the failed install left %d Secrets in %s", len(secrets.Items), namespace)
	}
}
