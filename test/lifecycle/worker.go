package lifecycle

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// The worker the scenarios run: 2 replicas of the test app with 5 threads
// each and a Sidekiq shutdown timeout (8 s) shorter than its longest job
// (20 s), the case a plain SIGTERM handles badly.
const (
	WorkerName       = "worker"
	workerReplicas   = 2
	Concurrency      = 5
	ShutdownTimeout  = 8
	MaxJobSeconds    = 20
	HeartbeatTimeout = 20 // the smallest comfortable value on a loaded 2-core node
	// SidekiqUID is the image's user and, when stated, the pod's.
	SidekiqUID = 1000
)

// Worker describes the Sidekiq Deployment of one scenario.
type Worker struct {
	Namespace string
	RedisURL  string
	// Inject annotates the pod template for the webhook.
	Inject bool
	// ImageUID leaves the UID to the image: the webhook cannot see it, so
	// the sidecar runs as its own image's UID and may not signal Sidekiq.
	ImageUID bool
}

// Deployment is the worker as a user would write it.
func (w Worker) Deployment() *appsv1.Deployment {
	labels := map[string]string{"app": WorkerName}
	var annotations map[string]string
	if w.Inject {
		annotations = map[string]string{
			webhook.AnnotationInject:                  "true",
			webhook.AnnotationMaxJobSeconds:           strconv.Itoa(MaxJobSeconds),
			webhook.AnnotationHeartbeatTimeoutSeconds: strconv.Itoa(HeartbeatTimeout),
		}
	}
	pod := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:            "sidekiq",
			Image:           cluster.SidekiqImage,
			ImagePullPolicy: corev1.PullNever,
			Command: []string{"sidekiq", "-r", "/app/app.rb",
				"-c", strconv.Itoa(Concurrency), "-t", strconv.Itoa(ShutdownTimeout)},
			Env: []corev1.EnvVar{
				{Name: "REDIS_URL", Value: w.RedisURL},
				{Name: "HOME", Value: "/tmp"},
			},
		}},
	}
	if !w.ImageUID {
		pod.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](SidekiqUID), RunAsGroup: ptr.To[int64](SidekiqUID)}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: WorkerName, Namespace: w.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](workerReplicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       pod,
			},
		},
	}
}

// Deploy creates the worker and waits until all its pods are ready.
func (e *Env) Deploy(ctx context.Context, w Worker) error {
	_, err := e.Cluster.Client.AppsV1().Deployments(w.Namespace).Create(ctx, w.Deployment(), metav1.CreateOptions{})
	if err != nil {
		return err
	}
	return e.WaitRolledOut(ctx, w.Namespace)
}

// Roll changes the pod template, as `kubectl rollout restart` does, and
// waits until every replica runs the new template.
func (e *Env) Roll(ctx context.Context, ns string, n int) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"lifecycle.sidekiq-probe.io/roll":"%d"}}}}}`, n)
	_, err := e.Cluster.Client.AppsV1().Deployments(ns).Patch(ctx, WorkerName, types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{})
	if err != nil {
		return err
	}
	return e.WaitRolledOut(ctx, ns)
}

// WaitRolledOut waits until the worker's replicas all run its template and
// are ready.
func (e *Env) WaitRolledOut(ctx context.Context, ns string) error {
	return cluster.Poll(ctx, 4*time.Minute, func() error {
		d, err := e.Cluster.Client.AppsV1().Deployments(ns).Get(ctx, WorkerName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !rolledOut(d) {
			return fmt.Errorf("worker not rolled out: %d updated, %d available of %d", d.Status.UpdatedReplicas,
				d.Status.AvailableReplicas, workerReplicas)
		}
		return nil
	})
}

// WaitOldPodsGone waits until only the worker's current replicas are left
// and none is terminating: the old pods' drains are part of what a scenario
// measures.
func (e *Env) WaitOldPodsGone(ctx context.Context, ns string) error {
	return cluster.Poll(ctx, 3*time.Minute, func() error {
		pods, err := e.Pods(ctx, ns)
		if err != nil {
			return err
		}
		terminating := 0
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				terminating++
			}
		}
		if terminating > 0 || len(pods) > workerReplicas {
			return fmt.Errorf("%d worker pods, %d terminating", len(pods), terminating)
		}
		return nil
	})
}

// Pods lists the worker's pods.
func (e *Env) Pods(ctx context.Context, ns string) ([]corev1.Pod, error) {
	list, err := e.Cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + WorkerName})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}
