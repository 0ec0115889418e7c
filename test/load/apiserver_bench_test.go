package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"sidekiq-probe.io/sidekiq-probe/internal/testcert"
	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// webhookName is the webhook as the API server's metrics name it.
const webhookName = "pods.sidekiq-probe.io"

// podsPerRound is how many pods each namespace gets per op, in turns of
// podsPerTurn.
const (
	podsPerRound = 500
	podsPerTurn  = 50
)

// BenchmarkAPIServerPodCreate creates the same annotated Rails worker pod
// podsPerRound times in a namespace without the injection label (the
// webhook is not called), in one whose label calls a no-op webhook (the
// baseline: what calling any webhook costs), in a labelled one (the real
// serve binary is called over TLS: webhook mode), and in one the chart in
// policy mode selects (the API server injects by itself), through a real
// kube-apiserver. It reports the wall times, the ratios to the plain
// namespace, and the API server's own
// apiserver_admission_webhook_admission_duration_seconds for our webhook.
// Pods are only created: nothing schedules them.
func BenchmarkAPIServerPodCreate(b *testing.B) {
	root := testkit.RepoRoot(b)
	// The no-op webhook logs through controller-runtime, which would
	// otherwise print a stack trace to say no logger was set.
	crlog.SetLogger(logr.Discard())
	cp := testcontrolplane.Start(b)
	certDir := b.TempDir()
	testcert.Write(b, certDir, "localhost")
	url := startServe(b, certDir, "").url
	ctx := context.Background()
	// The baseline webhook: decode, allow, no patch; what any webhook costs
	// the API server. Registered first: once ours is called, it is too.
	noopLabel := map[string]string{"bench.sidekiq-probe.io/noop-webhook": "enabled"}
	registerWebhook(b, cp.Client, "noop.bench.sidekiq-probe.io", noopWebhook(b, certDir), certDir, noopLabel)
	// The second baseline: a webhook that answers with the patch ours gives
	// this pod, remembered, without computing it. What it costs the API
	// server over the no-op is what applying the patch and storing the
	// bigger pod cost; what ours costs over it is our own work.
	replayLabel := map[string]string{"bench.sidekiq-probe.io/replay-webhook": "enabled"}
	registerWebhook(b, cp.Client, "replay.bench.sidekiq-probe.io", replayWebhook(b, certDir), certDir, replayLabel)
	ourLabel := map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled}
	registerWebhook(b, cp.Client, webhookName, strings.Replace(url, "127.0.0.1", "localhost", 1), certDir, ourLabel,
		metav1.LabelSelectorRequirement{Key: policyLabel, Operator: metav1.LabelSelectorOpDoesNotExist})
	// Policy mode, installed by the real helm: its namespace carries the
	// injection label too, and policyLabel, which our webhook's registration
	// above excludes.
	installPolicyMode(b, cp)
	policyLabels := map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled, policyLabel: "enabled"}

	fast := rest.CopyConfig(cp.Config)
	fast.QPS, fast.Burst = 1000, 1000 // the client must not be the bottleneck
	client := kubernetes.NewForConfigOrDie(fast)
	pod := benchPod(b, root)
	for ns, labels := range map[string]map[string]string{"plain": nil, "labelled": ourLabel, "noop": noopLabel, "replay": replayLabel,
		"policy": policyLabels} {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}, metav1.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
	}
	// The API server picks up the webhook configurations and the policies
	// within a moment. The replay webhook learns its patch from its first
	// request.
	for _, ns := range []string{"labelled", "replay", "policy"} {
		testkit.WaitUntil(b, 30*time.Second, "the API server to inject in namespace "+ns, func() error {
			got, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil && !testkit.HasSidecar(got) {
				return errors.New("the pod came back without the sidecar")
			}
			return err
		})
	}

	// The namespaces take turns, a slice of pods each, so that the load
	// other work puts on the shared cores weighs on all of them alike.
	// The same pod without the inject annotation, in the labelled
	// namespace: the webhook's matchConditions keep it from being called.
	unannotated := pod.DeepCopy()
	delete(unannotated.Annotations, webhook.AnnotationInject)
	var plain, noopTime, replayTime, labelled, labelledUnannotated, policy, policyUnannotated time.Duration
	for b.Loop() {
		for range podsPerRound / podsPerTurn {
			plain += createPods(b, client, "plain", pod, false)
			noopTime += createPods(b, client, "noop", pod, false)
			replayTime += createPods(b, client, "replay", pod, true)
			labelled += createPods(b, client, "labelled", pod, true)
			labelledUnannotated += createPods(b, client, "labelled", unannotated, false)
			policy += createPods(b, client, "policy", pod, true)
			policyUnannotated += createPods(b, client, "policy", unannotated, false)
		}
	}
	b.ReportMetric(0, "ns/op")
	n := float64(b.N)
	b.ReportMetric(plain.Seconds()/n, "plain-s")
	b.ReportMetric(noopTime.Seconds()/n, "noop-webhook-s")
	b.ReportMetric(labelled.Seconds()/n, "labelled-s")
	b.ReportMetric(labelled.Seconds()/plain.Seconds(), "ratio")
	b.ReportMetric(noopTime.Seconds()/plain.Seconds(), "noop-ratio")
	b.ReportMetric(labelled.Seconds()/noopTime.Seconds(), "over-noop-ratio")
	b.ReportMetric(labelledUnannotated.Seconds()/plain.Seconds(), "unannotated-ratio")
	b.ReportMetric(replayTime.Seconds()/n, "replay-webhook-s")
	b.ReportMetric(replayTime.Seconds()/plain.Seconds(), "replay-ratio")
	b.ReportMetric(labelled.Seconds()/replayTime.Seconds(), "over-replay-ratio")
	b.ReportMetric(policy.Seconds()/n, "policy-s")
	b.ReportMetric(policy.Seconds()/plain.Seconds(), "policy-ratio")
	b.ReportMetric(policy.Seconds()/labelled.Seconds(), "policy-over-webhook-ratio")
	b.ReportMetric(policyUnannotated.Seconds()/plain.Seconds(), "policy-unannotated-ratio")
	families := apiServerMetrics(b, cp.Client)
	// The mutating policy's CEL as the API server times it, per pod of the
	// policy namespace (annotated or not, and the warm-up's dry runs). The
	// validating policies are timed only when they fail or err.
	if mutating, pods := policyChecks(families, "apiserver_mutating_admission_policy_check_duration_seconds"); pods > 0 {
		b.ReportMetric(mutating/float64(pods)*1000, "policy-mutating-mean-ms")
	}
	h := webhookHistogram(b, families)
	b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount())*1000, "webhook-mean-ms")
	b.ReportMetric(histogramQuantile(h, 0.5)*1000, "webhook-p50-ms")
	b.ReportMetric(histogramQuantile(h, 0.99)*1000, "webhook-p99-ms")
}

// createPods creates podsPerTurn copies of pod in ns from 8 goroutines,
// as a busy ReplicaSet controller might, and returns the wall time.
func createPods(b *testing.B, client kubernetes.Interface, ns string, pod *corev1.Pod, wantInjected bool) time.Duration {
	const workers = 8
	next := make(chan struct{})
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for range next {
				got, err := client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
				if err == nil && testkit.HasSidecar(got) != wantInjected {
					err = fmt.Errorf("pod %s: injected %v, want %v", got.Name, !wantInjected, wantInjected)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range podsPerTurn {
		select {
		case next <- struct{}{}:
		case err := <-errs:
			close(next)
			wg.Wait()
			b.Fatal(err)
		}
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return took
}

// noopWebhook serves, over TLS with the same certificate, a webhook that
// decodes the pod and allows it, and returns its URL.
func noopWebhook(b *testing.B, certDir string) string {
	noop, err := testkit.NoopPodHandler()
	if err != nil {
		b.Fatal(err)
	}
	return serveTLS(b, certDir, &admission.Webhook{Handler: noop})
}

// serveTLS serves h over TLS with certDir's certificate, on loopback, and
// returns its URL by the name the certificate holds.
func serveTLS(b *testing.B, certDir string, h http.Handler) string {
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, "tls.crt"), filepath.Join(certDir, "tls.key"))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// replayWebhook serves, over TLS with the same certificate, a webhook that
// computes our patch for the first pod it sees, with our handler in
// process, and answers every later review with that patch, reading only
// the review's UID. The benchmark's pods are all the same, so the patch is
// too. It returns its URL.
func replayWebhook(b *testing.B, certDir string) string {
	ours, err := webhook.NewHandler(webhook.Options{SidecarImage: "sidekiq-probe:bench", NativeSidecar: true,
		DefaultMaxJobSeconds: webhook.DefaultMaxJobSeconds}, "sidekiq-probe")
	if err != nil {
		b.Fatal(err)
	}
	var (
		once  sync.Once
		patch []byte
	)
	return serveTLS(b, certDir, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		once.Do(func() { patch = firstPatch(b, ours, body) })
		var review struct {
			Request struct {
				UID types.UID `json:"uid"`
			} `json:"request"`
		}
		if err := json.Unmarshal(body, &review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		patchType := admissionv1.PatchTypeJSONPatch
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Response: &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true, PatchType: &patchType, Patch: patch},
		})
	}))
}

// firstPatch is our handler's patch for the review in body.
func firstPatch(b *testing.B, ours http.Handler, body []byte) []byte {
	req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	ours.ServeHTTP(rec, req)
	var answer admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil || answer.Response == nil || len(answer.Response.Patch) == 0 {
		b.Errorf("our handler gave no patch to replay: %v, %s", err, rec.Body)
		return nil
	}
	return answer.Response.Patch
}

// policyLabel marks the namespace of the benchmark's policy-mode release.
const policyLabel = "bench.sidekiq-probe.io/policy-mode"

// installPolicyMode installs the chart with `helm install --set mode=policy`
// (the real helm) into cp, selecting only the namespaces with policyLabel,
// with the sidecar image our webhook injects here.
func installPolicyMode(b *testing.B, cp *testcontrolplane.ControlPlane) {
	kubeconfig := filepath.Join(b.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, cp.KubeConfig, 0o600); err != nil {
		b.Fatal(err)
	}
	testkit.Helm(b, "install", "sidekiq-probe-policy", filepath.Join(testkit.RepoRoot(b), "charts", "sidekiq-probe"),
		"--namespace", "sidekiq-probe", "--create-namespace", "--kubeconfig", kubeconfig,
		"--set", "mode=policy", "--set", "sidecarImage.repository=sidekiq-probe", "--set", "sidecarImage.tag=bench",
		"--set-json", `webhook.namespaceSelector.matchExpressions=[{"key":"`+policyLabel+`","operator":"Exists"}]`)
}

// benchPod is the pod of the webhook benchmarks' review, made creatable on
// a bare API server: without the service account, its token volume and the
// priority class, which nothing here creates.
func benchPod(b *testing.B, root string) *corev1.Pod {
	raw, err := os.ReadFile(filepath.Join(root, testkit.BenchReview))
	if err != nil {
		b.Fatal(err)
	}
	var review struct {
		Request struct{ Object corev1.Pod }
	}
	if err := json.Unmarshal(raw, &review); err != nil {
		b.Fatal(err)
	}
	pod := &review.Request.Object
	pod.Namespace, pod.OwnerReferences, pod.ManagedFields = "", nil, nil
	pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount = "", ""
	pod.Spec.PriorityClassName, pod.Spec.Priority = "", nil
	pod.Spec.Volumes = pod.Spec.Volumes[:len(pod.Spec.Volumes)-1] // kube-api-access-*
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = c.VolumeMounts[:len(c.VolumeMounts)-1]
	return pod
}

// registerWebhook points a MutatingWebhookConfiguration, and its one
// webhook, both called name, at url, for the namespaces with the labels and
// meeting the requirements: as the chart does but by URL, since the API
// server refuses loopback Service endpoints.
func registerWebhook(b *testing.B, client kubernetes.Interface, name, url, certDir string, labels map[string]string,
	requirements ...metav1.LabelSelectorRequirement) {
	caBundle, err := os.ReadFile(filepath.Join(certDir, "ca.crt")) // the CA, as the chart's caBundle holds
	if err != nil {
		b.Fatal(err)
	}
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(context.Background(),
		&admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name:         name,
				ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
				Rules: []admissionregistrationv1.RuleWithOperations{{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				}},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: labels, MatchExpressions: requirements},
				// As the chart sets it (test/chart checks the chart's).
				MatchConditions: []admissionregistrationv1.MatchCondition{{
					Name:       "has-inject-annotation",
					Expression: "has(object.metadata.annotations) && '" + webhook.AnnotationInject + "' in object.metadata.annotations",
				}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
}

// apiServerMetrics reads and parses the API server's /metrics.
func apiServerMetrics(b *testing.B, client kubernetes.Interface) map[string]*dto.MetricFamily {
	body, err := client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		b.Fatal(err)
	}
	return families
}

// policyChecks sums a policy check duration histogram over the policies of
// the benchmark's policy-mode release: seconds in all, and the most checks
// of any one series.
func policyChecks(families map[string]*dto.MetricFamily, family string) (seconds float64, checks uint64) {
	for _, m := range families[family].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "policy" && strings.HasPrefix(l.GetValue(), "sidekiq-probe-policy") {
				seconds += m.GetHistogram().GetSampleSum()
				checks = max(checks, m.GetHistogram().GetSampleCount())
			}
		}
	}
	return seconds, checks
}

// webhookHistogram returns the API server's admission duration histogram
// for our webhook (non-dry-run creations and the dry runs of the warm-up
// alike).
func webhookHistogram(b *testing.B, families map[string]*dto.MetricFamily) *dto.Histogram {
	family := families["apiserver_admission_webhook_admission_duration_seconds"]
	for _, m := range family.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "name" && l.GetValue() == webhookName {
				return m.GetHistogram()
			}
		}
	}
	b.Fatalf("no apiserver_admission_webhook_admission_duration_seconds for %s", webhookName)
	return nil
}

// histogramQuantile interpolates linearly within the bucket holding q, as
// PromQL's histogram_quantile does; the buckets are coarse (5 ms, 25 ms,
// 100 ms...), so the mean says more.
func histogramQuantile(h *dto.Histogram, q float64) float64 {
	buckets := h.GetBucket()
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].GetUpperBound() < buckets[j].GetUpperBound() })
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, bk := range buckets {
		if count := float64(bk.GetCumulativeCount()); count >= rank {
			return lower + (bk.GetUpperBound()-lower)*(rank-below)/(count-below)
		}
		lower, below = bk.GetUpperBound(), float64(bk.GetCumulativeCount())
	}
	return lower
}
