package chart_test

import (
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// The self-managed certificates need nothing but their Secret and their
// webhook configuration, each by name.
func TestSelfManagedCerts_RBACIsLimitedToOneSecretAndOneWebhookConfiguration(t *testing.T) {
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
func TestSelfManagedCerts_SecretIsEmptyAndKept(t *testing.T) {
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
