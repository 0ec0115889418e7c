package chart_test

import (
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// certManagerArgs switch to cert-manager and tell helm its API exists, as a
// cluster with cert-manager installed would.
var certManagerArgs = []string{"--set", "certManager.enabled=true", "--api-versions", "cert-manager.io/v1"}

func TestCertManager_IssuesTheCertificateAndInjectsTheCA(t *testing.T) {
	t.Parallel()
	objs := render(t, certManagerArgs...)
	svc := only[*corev1.Service](t, objs)
	dep := only[*appsv1.Deployment](t, objs)

	issuers, certs := byKind(objs, "Issuer"), byKind(objs, "Certificate")
	if len(issuers) != 1 || len(certs) != 1 {
		t.Fatalf("want one Issuer and one Certificate, got %d and %d", len(issuers), len(certs))
	}
	cert := certs[0]
	if got := nestedString(t, cert, "spec", "issuerRef", "name"); got != issuers[0].GetName() {
		t.Errorf("Certificate issued by %q, want the chart's Issuer %q", got, issuers[0].GetName())
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	want := []string{
		svc.Name, svc.Name + "." + namespace, svc.Name + "." + namespace + ".svc",
		svc.Name + "." + namespace + ".svc.cluster.local",
	}
	if !slices.Equal(dnsNames, want) {
		t.Errorf("Certificate dnsNames %q, want the Service's names %q", dnsNames, want)
	}

	mwc := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
	if got, want := mwc.Annotations["cert-manager.io/inject-ca-from"], namespace+"/"+cert.GetName(); got != want {
		t.Errorf("annotation cert-manager.io/inject-ca-from %q, want %q", got, want)
	}

	flags := serveFlags(t, dep)
	volume := mountedAt(t, dep, flags["cert-dir"])
	secretName := nestedString(t, cert, "spec", "secretName")
	if volume.Secret == nil || volume.Secret.SecretName != secretName {
		t.Errorf("cert dir holds %+v, want cert-manager's Secret %q", volume.VolumeSource, secretName)
	}
	for _, flag := range []string{"manage-certs", "cert-secret", "webhook-config", "service-name"} {
		if _, ok := flags[flag]; ok {
			t.Errorf("--%s is passed, but with cert-manager the webhook only reads its cert dir", flag)
		}
	}
}

// Without self-managed certificates the webhook needs no API access at all.
func TestCertManager_DropsTheSelfManagedSecretAndRBAC(t *testing.T) {
	t.Parallel()
	objs := render(t, certManagerArgs...)
	if token := only[*appsv1.Deployment](t, objs).Spec.Template.Spec.AutomountServiceAccountToken; token == nil || *token {
		t.Error("want automountServiceAccountToken: false, with cert-manager the webhook only reads its cert dir")
	}
	counts := map[string]int{
		"Secret":             len(all[*corev1.Secret](objs)),
		"Role":               len(all[*rbacv1.Role](objs)),
		"RoleBinding":        len(all[*rbacv1.RoleBinding](objs)),
		"ClusterRole":        len(all[*rbacv1.ClusterRole](objs)),
		"ClusterRoleBinding": len(all[*rbacv1.ClusterRoleBinding](objs)),
	}
	for kind, n := range counts {
		if n != 0 {
			t.Errorf("rendered %d %s with cert-manager, want none", n, kind)
		}
	}
}

func TestCertManager_WithoutItsAPIFailsClearly(t *testing.T) {
	t.Parallel()
	_, err := helm(t, templateArgs("--set", "certManager.enabled=true")...)
	if err == nil || !strings.Contains(err.Error(), "certManager.enabled=true needs cert-manager's CRDs") {
		t.Errorf("want an error saying cert-manager's CRDs are needed, got %v", err)
	}
}

func nestedString(t *testing.T, u *unstructured.Unstructured, fields ...string) string {
	t.Helper()
	s, found, err := unstructured.NestedString(u.Object, fields...)
	if err != nil || !found {
		t.Fatalf("%s %s: no string at %s (%v)", u.GetKind(), u.GetName(), strings.Join(fields, "."), err)
	}
	return s
}
