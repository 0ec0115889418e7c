package e2e

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// TestChart_CARotationUnderLoad shortens the certificate lifetimes so that
// leaf renewals and a whole CA rotation happen within a minute, and creates
// pods all along with failurePolicy Fail: not one may fail or miss the
// sidecar.
func TestChart_CARotationUnderLoad(t *testing.T) {
	forEachRelease(t, caRotationUnderLoad)
}

func caRotationUnderLoad(t *testing.T, r testcontrolplane.Release) {
	in := installOn(t, r)
	ctx := t.Context()
	client := in.cp.Client
	configs := client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	setFailurePolicy(t, client, admissionregistrationv1.Fail)
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: "apps", Labels: map[string]string{webhook.NamespaceLabel: "enabled"},
	}}, metav1.CreateOptions{})
	testkit.Must(t, err)

	fast := []string{"--ca-lifetime=60s", "--cert-lifetime=20s", "--ca-rotation-overlap=4s", "--cert-resync=1s"}
	in.startReplica(t, in.port, fast...)
	in.startReplica(t, testkit.FreePort(t), fast...)
	testkit.WaitFor(t, time.Minute, "the API server calls the webhook", func() bool {
		_, err := client.CoreV1().Pods("apps").Create(ctx, testkit.SidekiqPod(askedForInjection), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil
	})

	cas := func() int {
		config, err := configs.Get(ctx, configName, metav1.GetOptions{})
		testkit.Must(t, err)
		return bytes.Count(config.Webhooks[0].ClientConfig.CABundle, []byte("BEGIN CERTIFICATE"))
	}
	var created, failed, unmutated int
	overlapSeen, rotated := false, false
	deadline := time.Now().Add(3 * time.Minute)
	for !rotated {
		if time.Now().After(deadline) {
			t.Fatalf("no complete CA rotation seen (overlap seen: %v) after %d pods", overlapSeen, created)
		}
		// Named, not generated: before 1.31 (RetryGenerateName) the API
		// server does not retry a generated name that is taken, and among
		// the hundreds of pods here a collision happened in one run of five
		// on 1.30.14 ("already exists"), which is no failure of ours.
		pod := testkit.SidekiqPod(askedForInjection, testkit.Named("rotation-"+strconv.Itoa(created)))
		pod, err := client.CoreV1().Pods("apps").Create(ctx, pod, metav1.CreateOptions{})
		created++
		switch {
		case err != nil:
			failed++
			t.Errorf("pod %d: %v", created, err)
		case !testkit.HasSidecar(pod):
			unmutated++
		}
		switch n := cas(); {
		case n == 2:
			overlapSeen = true
		case n == 1 && overlapSeen:
			rotated = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d pods created through a CA rotation: %d failed, %d without the sidecar", created, failed, unmutated)
	if failed > 0 || unmutated > 0 {
		t.Fatalf("%d of %d pod creations failed and %d missed the sidecar during the rotation", failed, created, unmutated)
	}
}
