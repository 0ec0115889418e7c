package doctor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/doctor"
	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// want is a finding the report must hold: its check, its status and a piece
// of its detail or hint.
type want struct {
	check  string
	status doctor.Status
	text   string
}

// names are one case's namespaces: the webhook's and a labelled one for the
// pods, which is the one the doctor checks (-n).
type names struct{ webhook, app string }

func TestDoctor_OnARealAPIServer(t *testing.T) {
	cp := testcontrolplane.Start(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, cp.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	healthy := testkit.SidekiqPod(askedForInjection, testkit.Named("healthy"), enoughGrace, injected)

	tests := map[string]struct {
		notInstalled bool
		// allNamespaces checks pods with -A instead of -n app.
		allNamespaces bool
		setup         func(t *testing.T, client kubernetes.Interface, ns names)
		// ahead moves the doctor's clock forward.
		ahead    time.Duration
		want     []want
		wantCode int
	}{
		"a healthy install with an injected pod needs no action": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				createPod(t, client, ns.app, healthy.DeepCopy(), nil)
			},
			wantCode: 0,
		},
		"nothing installed fails every check of the webhook": {
			notInstalled: true,
			want: []want{
				{doctor.CheckDeployment, doctor.Fail, "not found"},
				{doctor.CheckWebhookConfig, doctor.Fail, "not found"},
				{doctor.CheckCertificate, doctor.Fail, "not found"},
			},
			wantCode: 1,
		},
		"a caBundle from another CA fails": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				configs := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
				config, err := configs.Get(context.Background(), ns.webhook, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				config.Webhooks[0].ClientConfig.CABundle = otherCA(t)
				if _, err := configs.Update(context.Background(), config, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			want:     []want{{doctor.CheckCABundle, doctor.Fail, "does not verify the serving certificate"}},
			wantCode: 1,
		},
		"a serving certificate a week from its end fails": {
			ahead:    358 * 24 * time.Hour,
			want:     []want{{doctor.CheckCertificate, doctor.Fail, "renewal is not happening"}},
			wantCode: 1,
		},
		"an annotated pod in an unlabelled namespace says to label it": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				unlabelled := ns.app + "-unlabelled"
				createNamespace(t, client, unlabelled, false)
				createPod(t, client, unlabelled, testkit.SidekiqPod(askedForInjection, testkit.Named("forgotten"), enoughGrace), nil)
			},
			allNamespaces: true,
			want:          []want{{doctor.CheckPodInjected, doctor.Fail, "kubectl label namespace"}},
			wantCode:      1,
		},
		"a pod created while the webhook was down says so": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				d, err := client.AppsV1().Deployments(ns.webhook).Get(context.Background(), "sidekiq-probe-webhook", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				setAvailable(t, client, d, 0, time.Now().Add(-time.Hour))
				createPod(t, client, ns.app, testkit.SidekiqPod(askedForInjection, testkit.Named("unprotected"), enoughGrace), nil)
			},
			want: []want{
				{doctor.CheckDeployment, doctor.Fail, "0/2 replicas available"},
				{doctor.CheckPodInjected, doctor.Fail, "while the webhook was unavailable"},
			},
			wantCode: 1,
		},
		"a grace period shorter than the annotations ask for fails": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				long := map[string]string{webhook.AnnotationInject: "true", webhook.AnnotationMaxJobSeconds: "300"}
				createPod(t, client, ns.app, testkit.SidekiqPod(long, testkit.Named("short-grace"), enoughGrace, injected), nil)
			},
			want:     []want{{doctor.CheckGracePeriod, doctor.Fail, "terminationGracePeriodSeconds is 100, its annotations need 340"}},
			wantCode: 1,
		},
		"a liveness restart is worth a look, not a failure": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				pod := createPod(t, client, ns.app, healthy.DeepCopy(), func(s *corev1.PodStatus) {
					s.ContainerStatuses[0].RestartCount = 2
					s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 137, Reason: "Error", FinishedAt: metav1.Now()}}
				})
				kubeletEvent(t, client, pod, "worker", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503")
				kubeletEvent(t, client, pod, "worker", "Killing", "Container worker failed liveness probe, will be restarted")
			},
			want: []want{{doctor.CheckLivenessRestarts, doctor.Warn,
				"restarted 2 times by its liveness probe, last ended"}},
			wantCode: 0,
		},
		"a sidecar that is not ready is worth a look": {
			setup: func(t *testing.T, client kubernetes.Interface, ns names) {
				createPod(t, client, ns.app, healthy.DeepCopy(), func(s *corev1.PodStatus) {
					s.InitContainerStatuses[0].Ready = false
				})
			},
			want:     []want{{doctor.CheckSidecarReady, doctor.Warn, "sidecar not ready"}},
			wantCode: 0,
		},
	}
	t.Run("reads each sidecar", func(t *testing.T) { readsEachSidecar(t, cp.Client) })
	n := 0
	for name, tc := range tests {
		n++
		t.Run(name, func(t *testing.T) {
			ns := names{webhook: fmt.Sprintf("webhook-%d", n), app: fmt.Sprintf("app-%d", n)}
			if !tc.notInstalled {
				install(t, cp.Client, ns.webhook)
			}
			createNamespace(t, cp.Client, ns.app, true)
			if tc.setup != nil {
				tc.setup(t, cp.Client, ns)
			}
			scope := []string{"-n", ns.app}
			if tc.allNamespaces {
				scope = []string{"-A"}
			}
			args := append([]string{"--kubeconfig", kubeconfig, "-o", "json",
				"--webhook-namespace", ns.webhook, "--webhook-config", ns.webhook}, scope...)
			clock := func() time.Time { return time.Now().Add(tc.ahead) }

			var stdout, stderr bytes.Buffer
			code := doctor.Main(args, &stdout, &stderr, clock)
			var report struct {
				NeedsAction bool             `json:"needsAction"`
				Findings    []doctor.Finding `json:"findings"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
				t.Fatalf("-o json printed no JSON (%v): %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			assertFindings(t, report.Findings, tc.want)
			if code != tc.wantCode || report.NeedsAction != (tc.wantCode == 1) {
				t.Errorf("exit %d, needsAction %v; want exit %d\n%s", code, report.NeedsAction, tc.wantCode, stdout.String())
			}
		})
	}
}

// assertFindings checks that every wanted finding is there and that every
// finding that is not OK was wanted.
func assertFindings(t *testing.T, got []doctor.Finding, wants []want) {
	t.Helper()
	matches := func(f doctor.Finding, w want) bool {
		return f.Check == w.check && f.Status == w.status && strings.Contains(f.Detail+" "+f.Hint, w.text)
	}
	for _, w := range wants {
		found := false
		for _, f := range got {
			found = found || matches(f, w)
		}
		if !found {
			t.Errorf("no %s %s finding saying %q in:\n%s", w.check, w.status, w.text, dump(got))
		}
	}
	for _, f := range got {
		if f.Status == doctor.OK {
			continue
		}
		wanted := false
		for _, w := range wants {
			wanted = wanted || matches(f, w)
		}
		if !wanted {
			t.Errorf("unexpected finding %+v", f)
		}
	}
}

func dump(findings []doctor.Finding) string {
	var b strings.Builder
	for _, f := range findings {
		fmt.Fprintf(&b, "  %s %s %s: %s (%s)\n", f.Check, f.Status, f.Object, f.Detail, f.Hint)
	}
	return b.String()
}
