package chart_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
				"sidecar-image":           image,
				"native-sidecar":          "true",
				"default-max-job-seconds": "60",
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

func TestDefaults_DeploymentRunsTwoSpreadReplicas(t *testing.T) {
	t.Parallel()
	objs := render(t)
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	anti := pod.Spec.Affinity.PodAntiAffinity
	if anti == nil || len(anti.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("want one preferred pod anti-affinity term, got %+v", pod.Spec.Affinity)
	}
	term := anti.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	if term.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("anti-affinity topology %q, want kubernetes.io/hostname", term.TopologyKey)
	}
	if !selects(t, term.LabelSelector, pod.Labels) {
		t.Errorf("anti-affinity selector %v does not select the webhook pods %v", term.LabelSelector, pod.Labels)
	}

	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if !selects(t, pdb.Spec.Selector, pod.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the webhook pods %v", pdb.Spec.Selector, pod.Labels)
	}

	if pod.Spec.ServiceAccountName != only[*corev1.ServiceAccount](t, objs).Name {
		t.Errorf("pods run as %q, not the chart's ServiceAccount", pod.Spec.ServiceAccountName)
	}
}

func TestDefaults_OneReplicaHasNoDisruptionBudget(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "replicaCount=1")
	if pdbs := all[*policyv1.PodDisruptionBudget](objs); len(pdbs) != 0 {
		t.Errorf("want no PodDisruptionBudget with one replica (it would block every drain), got %d", len(pdbs))
	}
}

func TestDefaults_ContainerIsProbedAndFindsItsNamespace(t *testing.T) {
	t.Parallel()
	dep := only[*appsv1.Deployment](t, render(t))
	c := webhookContainer(t, dep)

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"webhook": 9443, "health": 8081, "metrics": 8080}; !maps.Equal(ports, want) {
		t.Errorf("container ports %v, want %v", ports, want)
	}
	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, probe := range probes {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "health" {
			t.Errorf("want an httpGet probe on %s at the health port, got %+v", path, probe)
		}
	}

	var podNamespace *corev1.EnvVar
	for i, env := range c.Env {
		if env.Name == "POD_NAMESPACE" {
			podNamespace = &c.Env[i]
		}
	}
	if podNamespace == nil || podNamespace.ValueFrom == nil || podNamespace.ValueFrom.FieldRef == nil ||
		podNamespace.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("want POD_NAMESPACE from the downward API metadata.namespace, got %+v", podNamespace)
	}

	certDir := serveFlags(t, dep)["cert-dir"]
	volume := mountedAt(t, dep, certDir)
	if volume.EmptyDir == nil {
		t.Errorf("want an emptyDir at the cert dir %s (the root filesystem is read-only), got %+v", certDir, volume)
	}
}

// mountedAt returns the pod volume mounted at path in the webhook container.
func mountedAt(t *testing.T, dep *appsv1.Deployment, path string) corev1.Volume {
	t.Helper()
	for _, m := range webhookContainer(t, dep).VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
	}
	t.Fatalf("no volume mounted at %s", path)
	return corev1.Volume{}
}

func TestDefaults_ServiceSendsPort443ToTheWebhookPort(t *testing.T) {
	t.Parallel()
	objs := render(t)
	svc := only[*corev1.Service](t, objs)
	dep := only[*appsv1.Deployment](t, objs)

	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("want the Service to expose one port, got %+v", svc.Spec.Ports)
	}
	port := svc.Spec.Ports[0]
	target := port.TargetPort.String()
	var containerPort int32
	for _, p := range webhookContainer(t, dep).Ports {
		if p.Name == target {
			containerPort = p.ContainerPort
		}
	}
	if port.Port != 443 || containerPort != 9443 {
		t.Errorf("Service port %d -> %q (container port %d), want 443 -> 9443", port.Port, target, containerPort)
	}
	if !selectsMap(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the webhook pods %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
}

// The self-managed certificates need nothing but their Secret and their
// webhook configuration, each by name.
func TestDefaults_RBACIsLimitedToOneSecretAndOneWebhookConfiguration(t *testing.T) {
	t.Parallel()
	objs := render(t)
	secret := only[*corev1.Secret](t, objs)
	mwc := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
	sa := only[*corev1.ServiceAccount](t, objs)

	role := only[*rbacv1.Role](t, objs)
	wantRole := []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"secrets"},
		ResourceNames: []string{secret.Name}, Verbs: []string{"get", "list", "watch", "update"},
	}}
	if !rulesEqual(role.Rules, wantRole) {
		t.Errorf("Role rules %+v, want %+v", role.Rules, wantRole)
	}
	clusterRole := only[*rbacv1.ClusterRole](t, objs)
	wantClusterRole := []rbacv1.PolicyRule{{
		APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"},
		ResourceNames: []string{mwc.Name}, Verbs: []string{"get", "update", "patch"},
	}}
	if !rulesEqual(clusterRole.Rules, wantClusterRole) {
		t.Errorf("ClusterRole rules %+v, want %+v", clusterRole.Rules, wantClusterRole)
	}

	binding := only[*rbacv1.RoleBinding](t, objs)
	clusterBinding := only[*rbacv1.ClusterRoleBinding](t, objs)
	if binding.RoleRef.Name != role.Name || clusterBinding.RoleRef.Name != clusterRole.Name {
		t.Errorf("bindings refer to %q and %q, want %q and %q",
			binding.RoleRef.Name, clusterBinding.RoleRef.Name, role.Name, clusterRole.Name)
	}
	wantSubject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: namespace}}
	if !slices.Equal(binding.Subjects, wantSubject) || !slices.Equal(clusterBinding.Subjects, wantSubject) {
		t.Errorf("bindings bind %+v and %+v, want %+v", binding.Subjects, clusterBinding.Subjects, wantSubject)
	}
}

func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y rbacv1.PolicyRule) bool {
		return slices.Equal(x.APIGroups, y.APIGroups) && slices.Equal(x.Resources, y.Resources) &&
			slices.Equal(x.ResourceNames, y.ResourceNames) && slices.Equal(x.Verbs, y.Verbs) &&
			len(x.NonResourceURLs) == 0 && len(y.NonResourceURLs) == 0
	})
}

// The webhook fills the Secret; helm must never own its content.
func TestDefaults_CertSecretIsEmptyAndKept(t *testing.T) {
	t.Parallel()
	secret := only[*corev1.Secret](t, render(t))
	if secret.Type != corev1.SecretTypeOpaque {
		t.Errorf("Secret type %q, want Opaque", secret.Type)
	}
	if len(secret.Data) != 0 || len(secret.StringData) != 0 {
		t.Errorf("want no data in the Secret (an upgrade would wipe the CA), got %d keys", len(secret.Data)+len(secret.StringData))
	}
	if got := secret.Annotations["helm.sh/resource-policy"]; got != "keep" {
		t.Errorf("annotation helm.sh/resource-policy %q, want keep", got)
	}
}

// The ValidatingAdmissionPolicy API is GA since Kubernetes 1.30.
func TestChart_RefusesKubernetesBefore130(t *testing.T) {
	t.Parallel()
	_, err := helm(t, "template", release, chartDir, "--namespace", namespace, "--kube-version", "v1.29.9")
	if err == nil || !strings.Contains(err.Error(), "kubeVersion: >=1.30.0-0") {
		t.Errorf("want helm to refuse Kubernetes 1.29 naming the chart's kubeVersion, got %v", err)
	}
}
