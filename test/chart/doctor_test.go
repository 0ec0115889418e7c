package chart_test

import (
	"io"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/doctor"
)

// The doctor's defaults must find what `helm install sidekiq-probe` creates,
// or a user without flags gets "not found" on a healthy install.
func TestDoctor_DefaultsNameTheRenderedObjects(t *testing.T) {
	cfg, err := doctor.ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	objs := render(t)
	got := map[string]string{
		"namespace":      namespace,
		"deployment":     only[*appsv1.Deployment](t, objs).Name,
		"service":        only[*corev1.Service](t, objs).Name,
		"cert-secret":    only[*corev1.Secret](t, objs).Name,
		"webhook-config": only[*admissionregistrationv1.MutatingWebhookConfiguration](t, objs).Name,
	}
	want := map[string]string{
		"namespace": cfg.WebhookNamespace, "deployment": cfg.Deployment, "service": cfg.Service,
		"cert-secret": cfg.CertSecret, "webhook-config": cfg.WebhookConfig,
	}
	for flag, name := range got {
		if want[flag] != name {
			t.Errorf("the chart renders %s %q, the doctor's default is %q", flag, name, want[flag])
		}
	}
}

// In policy mode the same default names the MutatingAdmissionPolicy, and
// the validating policies carry the suffixes the doctor reads.
func TestDoctor_DefaultsNameThePolicies(t *testing.T) {
	cfg, err := doctor.ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	objs := render(t, "--set", "mode=policy")
	if name := only[*admissionregistrationv1.MutatingAdmissionPolicy](t, objs).Name; name != cfg.WebhookConfig {
		t.Errorf("the chart renders MutatingAdmissionPolicy %q, the doctor's default is %q", name, cfg.WebhookConfig)
	}
	names := map[string]bool{}
	for _, p := range all[*admissionregistrationv1.ValidatingAdmissionPolicy](objs) {
		names[p.Name] = true
	}
	for _, suffix := range []string{"-injected", "-denials", "-warnings"} {
		if !names[cfg.WebhookConfig+suffix] {
			t.Errorf("no ValidatingAdmissionPolicy %s%s among %v", cfg.WebhookConfig, suffix, names)
		}
	}
}
