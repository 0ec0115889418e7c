package chart_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestDefaults_RenderEveryObjectOnce(t *testing.T) {
	t.Parallel()
	objs := render(t)

	kinds := map[string]int{}
	for _, obj := range objs {
		kinds[fmt.Sprintf("%T", obj)]++
	}
	want := map[string]int{
		"*v1.Deployment":                       1,
		"*v1.Service":                          1,
		"*v1.ServiceAccount":                   1,
		"*v1.Secret":                           1,
		"*v1.Role":                             1,
		"*v1.RoleBinding":                      1,
		"*v1.ClusterRole":                      1,
		"*v1.ClusterRoleBinding":               1,
		"*v1.PodDisruptionBudget":              1,
		"*v1.MutatingWebhookConfiguration":     1,
		"*v1.ValidatingAdmissionPolicy":        1,
		"*v1.ValidatingAdmissionPolicyBinding": 1,
	}
	if !maps.Equal(kinds, want) {
		t.Errorf("rendered kinds %v, want %v", kinds, want)
	}
	for _, obj := range objs {
		if ns := namespaceOf(obj); ns != "" && ns != namespace {
			t.Errorf("%T in namespace %q, want the release namespace %q", obj, ns, namespace)
		}
	}
}

func namespaceOf(obj runtime.Object) string {
	if o, ok := obj.(interface{ GetNamespace() string }); ok {
		return o.GetNamespace()
	}
	return ""
}

// The serve contract: the flags the chart passes, and names that agree
// between the flags and the objects, whatever the release is called.
func TestDefaults_ServeFlagsNameTheRenderedObjects(t *testing.T) {
	t.Parallel()
	appVersion := chartAppVersion(t)
	tests := map[string]struct {
		release, namespace           string
		service, secret, webhookConf string
	}{
		"the documented release uses the webhook's flag defaults": {
			release: "sidekiq-probe", namespace: "sidekiq-probe",
			service: "sidekiq-probe-webhook", secret: "sidekiq-probe-webhook-certs", webhookConf: "sidekiq-probe",
		},
		"another release name prefixes every name": {
			release: "jobs", namespace: "platform",
			service: "jobs-sidekiq-probe-webhook", secret: "jobs-sidekiq-probe-webhook-certs", webhookConf: "jobs-sidekiq-probe",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := helm(t, "template", tc.release, chartDir, "--namespace", tc.namespace, "--kube-version", kubeVersion)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decode(out)
			if err != nil {
				t.Fatal(err)
			}
			dep := only[*appsv1.Deployment](t, objs)
			image := "sidekiq-probe/sidekiq-probe:" + appVersion
			want := map[string]string{
				"port":                    "9443",
				"cert-dir":                "/tmp/k8s-webhook-server/serving-certs",
				"health-addr":             ":8081",
				"metrics-addr":            ":8080",
				"log-level":               "info",
				"shutdown-delay":          "5s",
				"sidecar-image":           image,
				"native-sidecar":          "true",
				"default-max-job-seconds": "60",
				"max-review-size":         "7Mi",
				"review-memory":           "48Mi",
				"max-review-timeout":      "5s", // the API server's timeout, webhook.timeoutSeconds
				"manage-certs":            "true",
				"cert-secret":             tc.secret,
				"service-name":            tc.service,
				"webhook-config":          tc.webhookConf,
			}
			if got := serveFlags(t, dep); !maps.Equal(got, want) {
				t.Errorf("serve flags\n got %v\nwant %v", got, want)
			}
			if got := webhookContainer(t, dep).Image; got != image {
				t.Errorf("webhook image %q, want %q (the tag defaults to the appVersion)", got, image)
			}
			if got := only[*corev1.Service](t, objs).Name; got != tc.service {
				t.Errorf("Service %q, want %q", got, tc.service)
			}
			if got := only[*corev1.Secret](t, objs).Name; got != tc.secret {
				t.Errorf("Secret %q, want %q", got, tc.secret)
			}
			mwc := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
			if mwc.Name != tc.webhookConf {
				t.Errorf("MutatingWebhookConfiguration %q, want %q", mwc.Name, tc.webhookConf)
			}
			svc := mwc.Webhooks[0].ClientConfig.Service
			if svc == nil || svc.Name != tc.service || svc.Namespace != tc.namespace {
				t.Errorf("webhook calls service %+v, want %s/%s", svc, tc.namespace, tc.service)
			}
		})
	}
}

func chartAppVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	return chart.AppVersion
}
