package doctor_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/certs"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// The chart's default object names, inside each case's own namespace.
const (
	deploymentName = "sidekiq-probe-webhook"
	serviceName    = "sidekiq-probe-webhook"
	secretName     = "sidekiq-probe-webhook-certs"
)

// install is what `helm install` and a running webhook leave behind: the
// webhook configuration calling the Service, the certificate Secret written
// by package certs (which also sets the caBundle) and an available
// Deployment. Its status is written through the status subresource, since no
// controller runs in the test control plane.
func install(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	createNamespace(t, client, ns, false)
	path := webhook.Path
	config := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pods.sidekiq-probe.io",
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: ns, Name: serviceName, Path: &path, Port: ptr.To[int32](443)}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled}},
			SideEffects:       ptr.To(admissionregistrationv1.SideEffectClassNone),
			// No Service exists: every call fails at once and Ignore admits
			// the pod unchanged, exactly like a webhook that is down.
			FailurePolicy:  ptr.To(admissionregistrationv1.Ignore),
			TimeoutSeconds: ptr.To[int32](1),
		}},
	}
	if _, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, config, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	manager, err := certs.New(certs.Config{
		Client: client, Namespace: ns, SecretName: secretName, WebhookConfigName: ns,
		ServiceName: serviceName, CertDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := manager.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{"app": "sidekiq-probe-webhook"}
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deploymentName, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "webhook", Image: "sidekiq-probe/sidekiq-probe:test"}}},
			},
		},
	}
	deployment, err = client.AppsV1().Deployments(ns).Create(ctx, deployment, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setAvailable(t, client, deployment, 2, time.Now().Add(-time.Hour))
}

// setAvailable writes the Deployment's status: how many replicas are
// available, and since when the Available condition has its value.
func setAvailable(t *testing.T, client kubernetes.Interface, d *appsv1.Deployment, replicas int32, since time.Time) {
	t.Helper()
	d, err := client.AppsV1().Deployments(d.Namespace).Get(context.Background(), d.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionTrue
	if replicas == 0 {
		status = corev1.ConditionFalse
	}
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation,
		Replicas:           2, UpdatedReplicas: 2, ReadyReplicas: replicas, AvailableReplicas: replicas,
		UnavailableReplicas: 2 - replicas,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: status,
			Reason: "Test", LastUpdateTime: metav1.NewTime(since), LastTransitionTime: metav1.NewTime(since)}},
	}
	if _, err := client.AppsV1().Deployments(d.Namespace).UpdateStatus(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string, labelled bool) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if labelled {
		ns.Labels = map[string]string{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled}
	}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Without a controller manager the namespace stays Terminating, which
	// is harmless: the control plane goes away with the test.
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// The doctor's pods ask for injection (askedForInjection) and have the
// grace period the default annotations need (enoughGrace: 60 s of job, 25 s
// for Sidekiq's own shutdown, 15 s of margin); injected makes one look like
// the webhook's output.
var (
	askedForInjection = map[string]string{webhook.AnnotationInject: "true"}
	enoughGrace       = testkit.GracePeriod(100)
	injected          = testkit.LooksInjected(webhook.AnnotationStatus, webhook.StatusInjected)
)

// createPod creates the pod and writes a running status through the status
// subresource, as a kubelet would; edit changes that status first.
func createPod(t *testing.T, client kubernetes.Interface, ns string, pod *corev1.Pod, edit func(*corev1.PodStatus)) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Never scheduled, so it goes at once; later cases with -A must not
	// see it.
	t.Cleanup(func() {
		_ = client.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	})
	now := metav1.Now()
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now}
	for _, c := range pod.Spec.InitContainers {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses,
			corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true), State: running})
	}
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses,
			corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: true, Started: ptr.To(true), State: running})
	}
	if edit != nil {
		edit(&pod.Status)
	}
	pod, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// kubeletEvent records what the kubelet reports about a pod's container.
func kubeletEvent(t *testing.T, client kubernetes.Interface, pod *corev1.Pod, container, reason, message string) {
	t.Helper()
	now := metav1.Now()
	event := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: pod.Name + ".", Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			APIVersion: "v1", FieldPath: "spec.containers{" + container + "}"},
		Reason: reason, Message: message, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := client.CoreV1().Events(pod.Namespace).Create(context.Background(), event, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// otherCA is a CA certificate in PEM that signed nothing of ours.
func otherCA(t *testing.T) []byte {
	t.Helper()
	ca, err := certs.NewAuthority(rand.Reader, "someone else's CA", time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM()
}
