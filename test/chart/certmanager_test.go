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
	"k8s.io/apimachinery/pkg/runtime"
)

// certManagerArgs switch to cert-manager and tell helm its API exists, as a
// cluster with cert-manager installed would.
var certManagerArgs = []string{"--set", "certManager.enabled=true", "--api-versions", "cert-manager.io/v1"}

// The serving certificate comes from a CA of the chart's own, as cert-manager
// documents for webhooks, so ca.crt (and the injected caBundle) is that CA and
// stays the same when the serving certificate is renewed: the kubelet and the
// CA injector pick up a renewal at different times, and only a fixed CA
// keeps the API server's TLS working in between.
func TestCertManager_IssuesTheCertificateFromACAAndInjectsTheCA(t *testing.T) {
	t.Parallel()
	objs := render(t, certManagerArgs...)
	svc := only[*corev1.Service](t, objs)
	dep := only[*appsv1.Deployment](t, objs)
	chain := certManagerChain(t, objs)

	if got := issuerRef(t, chain.ca); got != "Issuer/"+chain.selfSigned.GetName() {
		t.Errorf("CA Certificate issued by %s, want the selfSigned Issuer %s", got, chain.selfSigned.GetName())
	}
	if got := nestedString(t, chain.ca, "spec", "duration"); got != "43800h" {
		t.Errorf("CA Certificate duration %q, want 43800h: the CA must outlive many serving certificates", got)
	}
	if got := nestedString(t, chain.ca, "spec", "privateKey", "rotationPolicy"); got != "Never" {
		t.Errorf("CA Certificate privateKey.rotationPolicy %q, want Never: a renewed CA keeps its key, so the old caBundle still verifies", got)
	}
	caSecret := nestedString(t, chain.ca, "spec", "secretName")
	if got := nestedString(t, chain.caIssuer, "spec", "ca", "secretName"); got != caSecret {
		t.Errorf("CA Issuer signs with Secret %q, want the CA Certificate's Secret %q", got, caSecret)
	}
	if got := issuerRef(t, chain.serving); got != "Issuer/"+chain.caIssuer.GetName() {
		t.Errorf("serving Certificate issued by %s, want the CA Issuer %s", got, chain.caIssuer.GetName())
	}
	if isCA, _, _ := unstructured.NestedBool(chain.serving.Object, "spec", "isCA"); isCA {
		t.Error("serving Certificate has isCA: true, want a leaf")
	}
	servingSecret := nestedString(t, chain.serving, "spec", "secretName")
	if servingSecret == caSecret {
		t.Errorf("serving and CA Certificates share the Secret %q, want one each", caSecret)
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(chain.serving.Object, "spec", "dnsNames")
	want := []string{
		svc.Name, svc.Name + "." + namespace, svc.Name + "." + namespace + ".svc",
		svc.Name + "." + namespace + ".svc.cluster.local",
	}
	if !slices.Equal(dnsNames, want) {
		t.Errorf("serving Certificate dnsNames %q, want the Service's names %q", dnsNames, want)
	}

	// The injector copies ca.crt of the named Certificate's Secret, which a
	// CA Issuer fills with the CA.
	mwc := only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs)
	if got, want := mwc.Annotations["cert-manager.io/inject-ca-from"], namespace+"/"+chain.serving.GetName(); got != want {
		t.Errorf("annotation cert-manager.io/inject-ca-from %q, want the serving Certificate %q", got, want)
	}

	flags := serveFlags(t, dep)
	volume := mountedAt(t, dep, flags["cert-dir"])
	if volume.Secret == nil || volume.Secret.SecretName != servingSecret {
		t.Errorf("cert dir holds %+v, want the serving Certificate's Secret %q", volume.VolumeSource, servingSecret)
	}
	for _, flag := range []string{"manage-certs", "cert-secret", "webhook-config", "service-name"} {
		if _, ok := flags[flag]; ok {
			t.Errorf("--%s is passed, but with cert-manager the webhook only reads its cert dir", flag)
		}
	}
}

// Helm allows release names of 53 characters; the names are cut to 63, and
// cut the wrong way the two Issuers or the two Secrets would become one.
func TestCertManager_NamesStayDistinctForTheLongestRelease(t *testing.T) {
	t.Parallel()
	longRelease := strings.Repeat("r", 53)
	args := append([]string{"template", longRelease, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}, certManagerArgs...)
	out, err := helm(t, args...)
	if err != nil {
		t.Fatalf("helm template %s: %v", longRelease, err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("helm template %s: %v", longRelease, err)
	}
	chain := certManagerChain(t, objs)
	names := map[string][2]string{
		"Issuer":      {chain.selfSigned.GetName(), chain.caIssuer.GetName()},
		"Certificate": {chain.ca.GetName(), chain.serving.GetName()},
		"Secret":      {nestedString(t, chain.ca, "spec", "secretName"), nestedString(t, chain.serving, "spec", "secretName")},
	}
	for kind, pair := range names {
		if pair[0] == pair[1] {
			t.Errorf("both %ss are named %q, want distinct names", kind, pair[0])
		}
		for _, name := range pair {
			if len(name) > 63 {
				t.Errorf("%s name %q has %d characters, want at most 63", kind, name, len(name))
			}
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

// chain is cert-manager's CA chain as the chart renders it.
type chain struct {
	selfSigned, caIssuer *unstructured.Unstructured // Issuers
	ca, serving          *unstructured.Unstructured // Certificates
}

// certManagerChain sorts the rendered Issuers and Certificates by role and
// fails unless there are exactly the four of the chain.
func certManagerChain(t *testing.T, objs []runtime.Object) chain {
	t.Helper()
	issuers, certs := byKind(objs, "Issuer"), byKind(objs, "Certificate")
	if len(issuers) != 2 || len(certs) != 2 {
		t.Fatalf("want two Issuers (selfSigned, CA) and two Certificates (CA, serving), got %d and %d", len(issuers), len(certs))
	}
	var c chain
	for _, issuer := range issuers {
		if _, ok, _ := unstructured.NestedMap(issuer.Object, "spec", "selfSigned"); ok {
			c.selfSigned = issuer
		}
		if _, ok, _ := unstructured.NestedMap(issuer.Object, "spec", "ca"); ok {
			c.caIssuer = issuer
		}
	}
	for _, cert := range certs {
		if isCA, _, _ := unstructured.NestedBool(cert.Object, "spec", "isCA"); isCA {
			c.ca = cert
		} else {
			c.serving = cert
		}
	}
	if c.selfSigned == nil || c.caIssuer == nil || c.ca == nil || c.serving == nil {
		t.Fatalf("want a selfSigned Issuer, a CA Issuer, an isCA Certificate and a serving Certificate, got %+v", c)
	}
	return c
}

// issuerRef returns a Certificate's issuerRef as kind/name.
func issuerRef(t *testing.T, cert *unstructured.Unstructured) string {
	t.Helper()
	return nestedString(t, cert, "spec", "issuerRef", "kind") + "/" + nestedString(t, cert, "spec", "issuerRef", "name")
}
