package doctor

import (
	"context"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// cluster is what the checks look at, read once. Each object comes with the
// error reading it, which the checks that need the object report.
type cluster struct {
	ctx    context.Context
	client kubernetes.Interface
	cfg    Config
	now    time.Time

	deployment       *appsv1.Deployment
	deploymentErr    error
	webhookConfig    *admissionregistrationv1.MutatingWebhookConfiguration
	webhookConfigErr error
	secret           *corev1.Secret
	secretErr        error
	labelled         []corev1.Namespace
	labelledErr      error
	// pods are the pods in scope that asked for injection and have not
	// finished.
	pods    []corev1.Pod
	podsErr error

	namespaces map[string]*corev1.Namespace
	// policies is set in policy mode, instead of the webhook's objects.
	policies *policies
}

func read(ctx context.Context, client kubernetes.Interface, cfg Config, now time.Time) *cluster {
	c := &cluster{ctx: ctx, client: client, cfg: cfg, now: now, namespaces: map[string]*corev1.Namespace{}}
	if c.policyMode() {
		c.readPolicies(cfg.WebhookConfig)
	} else {
		ns := cfg.WebhookNamespace
		c.deployment, c.deploymentErr = client.AppsV1().Deployments(ns).Get(ctx, cfg.Deployment, metav1.GetOptions{})
		c.webhookConfig, c.webhookConfigErr = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, cfg.WebhookConfig, metav1.GetOptions{})
		c.secret, c.secretErr = client.CoreV1().Secrets(ns).Get(ctx, cfg.CertSecret, metav1.GetOptions{})
	}

	selector := labels.SelectorFromSet(labels.Set{webhook.NamespaceLabel: webhook.NamespaceLabelEnabled}).String()
	if list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: selector}); err != nil {
		c.labelledErr = err
	} else {
		c.labelled = list.Items
	}

	list, err := client.CoreV1().Pods(cfg.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		c.podsErr = err
		return c
	}
	for _, pod := range list.Items {
		finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
		// A static pod's mirror is never injected: the kubelet ignores edits.
		_, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]
		if pod.Annotations[webhook.AnnotationInject] == "true" && !finished && !mirror {
			c.pods = append(c.pods, pod)
		}
	}
	return c
}

// policyMode applies --mode; auto looks for the MutatingAdmissionPolicy (a
// cluster without the API, before 1.36, answers not found: webhook mode).
func (c *cluster) policyMode() bool {
	if c.cfg.Mode != "auto" {
		return c.cfg.Mode == "policy"
	}
	_, err := c.client.AdmissionregistrationV1().MutatingAdmissionPolicies().Get(c.ctx, c.cfg.WebhookConfig, metav1.GetOptions{})
	return err == nil
}

// namespace returns a namespace, read once.
func (c *cluster) namespace(name string) (*corev1.Namespace, error) {
	if ns, ok := c.namespaces[name]; ok {
		return ns, nil
	}
	ns, err := c.client.CoreV1().Namespaces().Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	c.namespaces[name] = ns
	return ns, nil
}

// events returns the events about a pod, oldest first as the API lists them.
func (c *cluster) events(pod *corev1.Pod) ([]corev1.Event, error) {
	list, err := c.client.CoreV1().Events(pod.Namespace).List(c.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.uid", string(pod.UID)).String(),
	})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

// injected reports whether the webhook marked the pod as injected.
func injected(pod *corev1.Pod) bool {
	return pod.Annotations[webhook.AnnotationStatus] == webhook.StatusInjected
}

// object names a namespaced object as "kind namespace/name".
func object(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// unreadable is the finding for an object the doctor could not read.
func unreadable(check, obj string, err error) Finding {
	f := Finding{Check: check, Status: Fail, Object: obj, Detail: fmt.Sprintf("cannot read it: %v", err)}
	switch {
	case apierrors.IsNotFound(err):
		f.Detail = "not found"
		f.Hint = "is the chart installed? Pass --webhook-namespace and the object names if the release is not named sidekiq-probe"
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		f.Hint = "the doctor needs get/list on it with your kubeconfig's user"
	}
	return f
}

// scope says which pods were looked at, for the OK findings.
func (c *cluster) scope() string {
	if c.cfg.Namespace == "" {
		return "in all namespaces"
	}
	return "in namespace " + c.cfg.Namespace
}
