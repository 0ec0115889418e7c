package e2e

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/doctor"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// modeLabel tells this test's namespaces apart: each release of the chart
// below selects the namespaces labelled for injection and with its value.
const modeLabel = "e2e.sidekiq-probe.io/mode"

// Namespaces of TestPolicyMode, by the release that injects their pods.
const (
	webhookMode      = "webhook-mode"
	policyMode       = "policy-mode"
	policyNonNative  = "policy-non-native"
	policyRelease    = "sidekiq-probe-policy"
	policyNonNativeR = "sidekiq-probe-policy-nn"
)

// selectMode adds a requirement on modeLabel to a release's namespaceSelector.
func selectMode(value string) []string {
	return []string{"--set-json", `webhook.namespaceSelector.matchExpressions=[{"key":"` + modeLabel +
		`","operator":"In","values":["` + value + `"]}]`}
}

// policyCluster is one API server with the chart in webhook mode (the real
// serve binary, as TestChart_TwoReplicas runs it) and, installed by the real
// `helm install --set mode=policy`, twice in policy mode: native sidecars,
// and nativeSidecar=false for the golden cases named non-native-*.
type policyCluster struct {
	*installed
	// releaseTokens is each policy release's preStop token, by the
	// namespace it injects, as pods get it: its Secret's data as stored
	// (base64), made URL-safe.
	releaseTokens map[string]string
	warnings      *testkit.WarningRecorder
	client        kubernetes.Interface // records warnings
}

func startPolicyCluster(t *testing.T) *policyCluster {
	t.Helper()
	in := install(t, append(slices.Clone(goldenSidecarImage), selectMode(webhookMode)...)...)
	in.startReplica(t, in.port)
	in.helmInstall(t, policyRelease, append(append([]string{"--set", "mode=policy"}, goldenSidecarImage...), selectMode(policyMode)...)...)
	in.helmInstall(t, policyNonNativeR, append(append([]string{"--set", "mode=policy", "--set", "nativeSidecar=false"},
		goldenSidecarImage...), selectMode(policyNonNative)...)...)
	for name, mode := range map[string]string{webhookMode: webhookMode, policyMode: policyMode, policyNonNative: policyNonNative, "unlabelled": ""} {
		labels := map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled, modeLabel: mode}
		if mode == "" {
			labels = nil
		}
		_, err := in.cp.Client.CoreV1().Namespaces().Create(t.Context(),
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		testkit.Must(t, err)
	}
	// Deployments become pods; validating policies get type-checked.
	in.cp.StartControllerManager(t, "validatingadmissionpolicy-status-controller")
	warnings, client := testkit.WarningClient(t, in.cp.Config)
	tokens := map[string]string{}
	for ns, release := range map[string]string{policyMode: policyRelease, policyNonNative: policyNonNativeR} {
		secret, err := in.cp.Client.CoreV1().Secrets(namespace).Get(t.Context(), release+"-prestop-token", metav1.GetOptions{})
		testkit.Must(t, err)
		tokens[ns] = strings.NewReplacer("+", "-", "/", "_", "=", "").Replace(base64.StdEncoding.EncodeToString(secret.Data["token"]))
	}
	c := &policyCluster{installed: in, releaseTokens: tokens, warnings: warnings, client: client}
	// Policies and webhook configurations take effect asynchronously.
	for _, ns := range []string{webhookMode, policyMode, policyNonNative} {
		testkit.WaitFor(t, time.Minute, "pods of "+ns+" are injected", func() bool {
			pod, err := in.cp.Client.CoreV1().Pods(ns).Create(t.Context(), testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err == nil && testkit.HasSidecar(pod)
		})
	}
	return c
}

// helmInstall runs the real `helm install` of the chart into the API server,
// in the release namespace.
func (in *installed) helmInstall(t *testing.T, release string, args ...string) {
	t.Helper()
	testkit.Helm(t, append([]string{"install", release, chartDir(t), "--namespace", namespace, "--kubeconfig", in.admin}, args...)...)
}

// create creates pod in namespace and returns the stored pod and the
// warnings the API server sent, each without the prefix a validating
// policy's warning carries.
func (c *policyCluster) create(t *testing.T, namespace string, pod *corev1.Pod) (*corev1.Pod, []string, error) {
	t.Helper()
	c.warnings.Take()
	got, err := c.client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	var texts []string
	for _, w := range c.warnings.Take() {
		if _, text, ok := strings.Cut(w, "' with binding '"); ok {
			_, w, _ = strings.Cut(text, "': ")
		}
		texts = append(texts, w)
	}
	return got, texts, err
}

// TestPolicyMode installs the chart in webhook mode and, with the real
// `helm install --set mode=policy`, in policy mode into one API server, and
// holds policy mode to the webhook's Go mutation, the reference.
func TestPolicyMode(t *testing.T) {
	c := startPolicyCluster(t)
	t.Run("every golden case is stored alike in both modes, warned and denied alike", c.checkGoldenCases)
	t.Run("random commands choose the same container and shutdown timeout in both modes", c.checkRandomCommands)
	t.Run("an annotated Deployment's pods are alike in both modes (through kube-controller-manager)", c.checkDeployment)
	t.Run("doctor finds the policies bound and type-checked", c.checkDoctor)
	t.Run("with the token Secret gone, other pods are created and annotated ones denied", c.checkTokenSecretGone)
	t.Run("with the binding gone, annotated pods are denied and the final-state policy flags them", c.checkFinalState)
}

// checkTokenSecretGone deletes the policy's parameter: pods without the
// annotation must not depend on it, annotated ones are denied
// (policy.failurePolicy Fail) with a message naming the Secret.
func (c *policyCluster) checkTokenSecretGone(t *testing.T) {
	secrets := c.cp.Client.CoreV1().Secrets(namespace)
	name := policyRelease + "-prestop-token"
	saved, err := secrets.Get(t.Context(), name, metav1.GetOptions{})
	testkit.Must(t, err)
	testkit.Must(t, secrets.Delete(t.Context(), name, metav1.DeleteOptions{}))
	var denial error
	testkit.WaitFor(t, time.Minute, "annotated pods are denied", func() bool {
		_, _, denial = c.create(t, policyMode, testkit.SidekiqPod(askedForInjection))
		return denial != nil
	})
	if want := "check the Secret " + name + " in namespace " + namespace; !strings.Contains(denial.Error(), want) {
		t.Errorf("denial %q, want it to say %q", denial, want)
	}
	if _, _, err := c.create(t, policyMode, testkit.SidekiqPod(nil)); err != nil {
		t.Errorf("a pod without the annotation: %v, want it created", err)
	}
	saved.ResourceVersion, saved.UID = "", ""
	_, err = secrets.Create(t.Context(), saved, metav1.CreateOptions{})
	testkit.Must(t, err)
	testkit.WaitFor(t, time.Minute, "annotated pods are injected again", func() bool {
		pod, _, err := c.create(t, policyMode, testkit.SidekiqPod(askedForInjection))
		return err == nil && testkit.HasSidecar(pod)
	})
}

// checkFinalState deletes the mutating policy's binding: annotated pods are
// denied (policy.failurePolicy Fail), and the chart's final-state
// ValidatingAdmissionPolicy (the one webhook mode has too) warns, naming
// what to check.
func (c *policyCluster) checkFinalState(t *testing.T) {
	bindings := c.cp.Client.AdmissionregistrationV1().MutatingAdmissionPolicyBindings()
	testkit.Must(t, bindings.Delete(t.Context(), policyRelease, metav1.DeleteOptions{}))
	var warnings []string
	var denial error
	testkit.WaitFor(t, time.Minute, "pods are no longer injected", func() bool {
		_, warnings, denial = c.create(t, policyMode, testkit.SidekiqPod(askedForInjection))
		return denial != nil
	})
	if want := "(policy.failurePolicy Fail): check the Secret"; !strings.Contains(denial.Error(), want) {
		t.Errorf("denial %q, want one containing %q", denial, want)
	}
	want := "was not injected by the sidekiq-probe MutatingAdmissionPolicy (no sidekiq-probe sidecar; "
	if !slices.ContainsFunc(warnings, func(w string) bool {
		return strings.Contains(w, want) && strings.Contains(w, "mutatingadmissionpolicybinding "+policyRelease)
	}) {
		t.Errorf("warnings %q, want the final-state policy's, containing %q and naming the binding", warnings, want)
	}

	// The doctor fails the missing binding.
	cfg := doctor.Config{Mode: "policy", WebhookNamespace: namespace, WebhookConfig: policyRelease, Namespace: policyMode}
	findings := doctor.Run(t.Context(), c.cp.Client, cfg, time.Now())
	if !slices.ContainsFunc(findings, func(f doctor.Finding) bool {
		return f.Check == doctor.CheckMutatingPolicy && f.Status == doctor.Fail &&
			f.Object == "mutatingadmissionpolicybinding "+policyRelease && f.Detail == "not found"
	}) {
		t.Errorf("findings %+v: want the missing binding failed", findings)
	}
}

// checkGoldenCases creates the input of every golden case of webhook/testdata
// in both modes: the stored pods must be equal, and equal to the golden
// output as the API server stores it (checkStored); warnings and denials must
// have the same text. A golden case that changes in one mode only fails here.
func (c *policyCluster) checkGoldenCases(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join(testkit.RepoRoot(t), "webhook", "testdata", "*.in.yaml"))
	testkit.Must(t, err)
	var noPod []string
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".in.yaml")
		pod, ok := goldenPodOf(t, name+".in.yaml")
		if !ok {
			noPod = append(noPod, name)
			continue
		}
		pod.Name = name
		if _, mirror := pod.Annotations["kubernetes.io/config.mirror"]; mirror {
			// The API server accepts a mirror pod only bound to a node.
			pod.Spec.NodeName = "node-1"
		}
		t.Run(name, func(t *testing.T) {
			if denial, invalid := goldenText(t, name+".err"); invalid {
				c.checkDenied(t, name, pod, strings.TrimSuffix(denial, "\n"))
				return
			}
			c.checkSamePod(t, name, pod)
		})
	}
	// A ConfigMap holds no pod: the API server never sends it to either.
	if !slices.Equal(noPod, []string{"configmap-passes-through"}) {
		t.Errorf("golden cases without a pod: %q, want only configmap-passes-through", noPod)
	}
}

// checkRandomCommands creates pods of two containers whose commands are
// drawn (seeded) from the words that matter to webhook/sidekiqcommand.go: sidekiq
// under several paths, -t and --timeout in each form, sh and bash -c with
// quotes and shell operators. Both modes must pick the same container and
// timeout, or deny with the same text. This is the CEL's shell splitting
// against the Go reference on inputs no golden file holds.
func (c *policyCluster) checkRandomCommands(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	outcomes := map[string]int{}
	defer func() { t.Logf("random commands: %v", outcomes) }()
	for i := range 200 {
		pod := testkit.SidekiqPod(askedForInjection, testkit.Named(fmt.Sprintf("random-%d", i)))
		worker := pod.Spec.Containers[0]
		pod.Spec.Containers = []corev1.Container{worker, worker}
		pod.Spec.Containers[1].Name = "other"
		for j := range pod.Spec.Containers {
			pod.Spec.Containers[j].Command, pod.Spec.Containers[j].Args = randomArgv(r), randomArgv(r)
		}
		byPolicy, policyWarnings, policyErr := c.create(t, policyMode, pod.DeepCopy())
		byWebhook, webhookWarnings, webhookErr := c.create(t, webhookMode, pod.DeepCopy())
		what := fmt.Sprintf("commands %q and %q, args %q and %q", pod.Spec.Containers[0].Command, pod.Spec.Containers[1].Command,
			pod.Spec.Containers[0].Args, pod.Spec.Containers[1].Args)
		if (policyErr == nil) != (webhookErr == nil) {
			t.Fatalf("%s: policy mode error %v, webhook mode error %v", what, policyErr, webhookErr)
		}
		if policyErr != nil {
			_, p, _ := strings.Cut(policyErr.Error(), "denied request: ")
			_, w, _ := strings.Cut(webhookErr.Error(), "denied the request: ")
			if p == "" || p != w {
				t.Fatalf("%s: policy mode denied %q, webhook mode %q", what, policyErr, webhookErr)
			}
			outcomes["denied"]++
			continue
		}
		setToken(byPolicy, "token")
		setToken(byWebhook, "token")
		if !equality.Semantic.DeepEqual(stored(byPolicy), stored(byWebhook)) {
			t.Fatalf("%s: the stored pods differ (- policy, + webhook):\n%s", what, diff.Diff(stored(byPolicy), stored(byWebhook)))
		}
		if !slices.Equal(policyWarnings, webhookWarnings) {
			t.Fatalf("%s: policy mode warned %q, webhook mode %q", what, policyWarnings, webhookWarnings)
		}
		chosen := "worker"
		if byPolicy.Spec.Containers[1].StartupProbe != nil {
			chosen = "other"
		}
		outcomes[fmt.Sprintf("%s, grace %d", chosen, *byPolicy.Spec.TerminationGracePeriodSeconds)]++
	}
}

// commandAtoms are the pieces random commands are made of.
var commandAtoms = []string{"sidekiq", "/usr/bin/sidekiq", "sidekiq/", "bundle", "exec", "-t", "--timeout", "--timeout=7",
	"-t9", "-t+3", "5", "40", "0", "$T", "x", "sh", "/bin/bash", "-c", "-ec", "--c", ";", "&&", "|", "(", ")", "\n", "'", "\"", " ", "\t"}

// randomArgv is a command or args: atoms, and maybe a shell and its script.
func randomArgv(r *rand.Rand) []string {
	var argv []string
	for range r.IntN(4) {
		argv = append(argv, commandAtoms[r.IntN(len(commandAtoms))])
	}
	if r.IntN(2) == 0 {
		var script strings.Builder
		for range r.IntN(12) {
			script.WriteString(commandAtoms[r.IntN(len(commandAtoms))])
			if r.IntN(2) == 0 {
				script.WriteString(" ")
			}
		}
		argv = append(argv, []string{"sh", "bash"}[r.IntN(2)], []string{"-c", "-ec", "-xc"}[r.IntN(3)], script.String())
	}
	for range r.IntN(3) {
		argv = append(argv, commandAtoms[r.IntN(len(commandAtoms))])
	}
	return argv
}

// checkDeployment creates the Deployment golden case in both modes and
// compares the pods kube-controller-manager creates for them.
func (c *policyCluster) checkDeployment(t *testing.T) {
	var dep appsv1.Deployment
	testkit.Must(t, yaml.Unmarshal(goldenFile(t, "deployment-bundle-exec.in.yaml"), &dep))
	pods := map[string]*corev1.Pod{}
	for _, ns := range []string{webhookMode, policyMode} {
		_, err := c.cp.Client.AppsV1().Deployments(ns).Create(t.Context(), dep.DeepCopy(), metav1.CreateOptions{})
		testkit.Must(t, err)
		selector := metav1.FormatLabelSelector(dep.Spec.Selector)
		testkit.WaitFor(t, time.Minute, "the Deployment's pod in "+ns, func() bool {
			list, err := c.cp.Client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
			if err != nil || len(list.Items) == 0 {
				return false
			}
			pods[ns] = &list.Items[0]
			return true
		})
	}
	got, want := podOfTemplate(pods[policyMode]), podOfTemplate(pods[webhookMode])
	if token := preStopToken(t, got); token != c.releaseTokens[policyMode] {
		t.Errorf("the Deployment's pod has preStop token %q, want the release's %q", token, c.releaseTokens[policyMode])
	}
	setToken(got, "token")
	setToken(want, "token")
	if !testkit.HasSidecar(got) {
		t.Fatal("the Deployment's pod has no sidecar in policy mode")
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("the Deployment's pods differ (- policy, + webhook):\n%s", diff.Diff(got, want))
	}
}

// podOfTemplate is what a pod holds of its template: annotations and spec.
func podOfTemplate(p *corev1.Pod) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: p.Annotations}, Spec: p.Spec}
}

// checkDoctor runs the doctor on the policy release: its policies are
// found, bound to the label, and type-checked by kube-controller-manager.
func (c *policyCluster) checkDoctor(t *testing.T) {
	cfg := doctor.Config{Mode: "auto", WebhookNamespace: namespace, WebhookConfig: policyRelease,
		Namespace: policyMode, DefaultMaxJobSeconds: webhook.DefaultMaxJobSeconds}
	var findings []doctor.Finding
	defer func() {
		if t.Failed() {
			t.Logf("the doctor's findings: %+v", findings)
		}
	}()
	testkit.WaitFor(t, time.Minute, "kube-controller-manager type-checks the validating policies", func() bool {
		findings = doctor.Run(t.Context(), c.cp.Client, cfg, time.Now())
		// The pod checks are the same in both modes.
		return !slices.ContainsFunc(findings, func(f doctor.Finding) bool {
			return (f.Check == doctor.CheckMutatingPolicy || f.Check == doctor.CheckValidatingPolicy) && f.Status != doctor.OK
		})
	})
	checks := map[string]int{}
	for _, f := range findings {
		checks[f.Check]++
	}
	if checks[doctor.CheckMutatingPolicy] != 2 || checks[doctor.CheckValidatingPolicy] != 3 || checks[doctor.CheckDeployment] != 0 {
		t.Errorf("findings %+v: want the mutating policy and its binding, three validating policies and no webhook check", findings)
	}
}

// checkSamePod creates pod in both modes and compares what is stored.
func (c *policyCluster) checkSamePod(t *testing.T, name string, pod *corev1.Pod) {
	t.Helper()
	ns := policyMode
	if strings.HasPrefix(name, "non-native-") {
		ns = policyNonNative // webhook mode runs one --native-sidecar, true
	}
	got, warnings, err := c.create(t, ns, pod.DeepCopy())
	testkit.Must(t, err)
	token := c.checkToken(t, got, pod)
	want, _ := goldenPodOf(t, name+".out.yaml")
	want.Name, want.Spec.NodeName = name, pod.Spec.NodeName
	if token != "" {
		setToken(got, preStopToken(t, want)) // the golden files have a fixed reader's
	}
	checkStored(t, c.cp.Client, got, "unlabelled", want)
	wantWarnings, _ := goldenText(t, name+".warnings")
	if text := testkit.WarningLines(warnings); text != wantWarnings {
		t.Errorf("policy mode warned\n%s\nwant (%s.warnings)\n%s", text, name, wantWarnings)
	}
	if ns != policyMode {
		return
	}
	byWebhook, webhookWarnings, err := c.create(t, webhookMode, pod.DeepCopy())
	testkit.Must(t, err)
	setToken(got, "token")
	setToken(byWebhook, "token")
	if !equality.Semantic.DeepEqual(stored(got), stored(byWebhook)) {
		t.Errorf("policy mode stored another pod than webhook mode (- policy, + webhook):\n%s", diff.Diff(stored(got), stored(byWebhook)))
	}
	if !slices.Equal(warnings, webhookWarnings) {
		t.Errorf("policy mode warned %q, webhook mode %q", warnings, webhookWarnings)
	}
}

// checkToken returns the preStop token of got, a pod stored in policy mode
// from in ("" when not injected): the sidecar's and the preStop hook's (when
// ours) must be the same, and the release's unless in had a sound one.
func (c *policyCluster) checkToken(t *testing.T, got, in *corev1.Pod) string {
	t.Helper()
	env, _ := tokenFields(got)
	if env == nil {
		return ""
	}
	token := preStopToken(t, got)
	release := c.releaseTokens[got.Namespace]
	if kept, _ := tokenFields(in); token != release && (kept == nil || token != *kept) {
		t.Errorf("preStop token %q: want the release's %q or the pod's own", token, release)
	}
	return token
}

// setToken puts token in both places of a pod's preStop token.
func setToken(pod *corev1.Pod, token string) {
	env, header := tokenFields(pod)
	if env != nil {
		*env = token
	}
	if header != nil {
		*header = token
	}
}

// checkDenied creates pod in both modes: each must deny it with the text
// of the golden case's .err file.
func (c *policyCluster) checkDenied(t *testing.T, name string, pod *corev1.Pod, denial string) {
	t.Helper()
	_, _, err := c.create(t, webhookMode, pod.DeepCopy())
	if want := `admission webhook "pods.sidekiq-probe.io" denied the request: ` + denial; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("webhook mode: error %v, want one containing %q", err, want)
	}
	_, _, err = c.create(t, policyMode, pod.DeepCopy())
	want := "ValidatingAdmissionPolicy '" + policyRelease + "-denials' with binding '" + policyRelease + "-denials' denied request: " + denial
	if reason, ok := apiServerDenies[name]; ok {
		want = reason
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("policy mode: error %v, want one containing %q", err, want)
	}
}

// apiServerDenies are the invalid cases the API server's own validation
// rejects in policy mode before any validating policy runs (the webhook
// denies them earlier, during mutating admission). README: "What differs".
var apiServerDenies = map[string]string{
	"invalid-no-containers": "spec.containers: Required value",
}

// goldenText is a golden text file; ok is false when there is none.
func goldenText(t *testing.T, name string) (text string, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "webhook", "testdata", name))
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	testkit.Must(t, err)
	return string(b), true
}

// goldenPodOf is the pod of a golden file: a Pod as it is, or the pod
// template of a Deployment, CronJob... as a Pod, which is what the API
// server admits once a controller creates it. ok is false for an object
// that holds no pod template.
func goldenPodOf(t *testing.T, file string) (pod *corev1.Pod, ok bool) {
	t.Helper()
	var doc map[string]any
	testkit.Must(t, yaml.Unmarshal(goldenFile(t, file), &doc))
	if doc["kind"] == "Pod" {
		// Not strict: a field the API does not know (pod-unknown-fields-kept)
		// is dropped on the way in, as the API server drops it.
		pod := &corev1.Pod{}
		testkit.Must(t, yaml.Unmarshal(goldenFile(t, file), pod))
		return pod, true
	}
	spec, _ := doc["spec"].(map[string]any)
	if jt, isJob := spec["jobTemplate"].(map[string]any); isJob {
		spec, _ = jt["spec"].(map[string]any)
	}
	tmpl, found := spec["template"]
	if !found {
		return nil, false
	}
	b, err := json.Marshal(tmpl)
	testkit.Must(t, err)
	var pt corev1.PodTemplateSpec
	testkit.Must(t, json.Unmarshal(b, &pt))
	return &corev1.Pod{ObjectMeta: pt.ObjectMeta, Spec: pt.Spec}, true
}
