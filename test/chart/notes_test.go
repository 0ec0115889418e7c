package chart_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// `helm template` never renders NOTES.txt, so the test renders it through a
// copy of the chart where a ConfigMap carries it.
func TestNotes_TellTheWholeUserStory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sidekiq-probe")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "templates", "NOTES.txt"), filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatal(err)
	}
	carrier := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes"},
  "data": {"notes": {{ tpl (.Files.Get "notes.txt") . | toJson }}}}`
	if err := os.WriteFile(filepath.Join(dir, "templates", "notes.yaml"), []byte(carrier), 0o600); err != nil {
		t.Fatal(err)
	}

	out, err := helm(t, "template", release, dir, "--namespace", namespace, "--kube-version", kubeVersion,
		"--show-only", "templates/notes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatal(err)
	}
	notes := only[*corev1.ConfigMap](t, objs).Data["notes"]
	for _, step := range []string{
		"kubectl -n " + namespace + " rollout status deploy/sidekiq-probe-webhook",
		"kubectl label namespace NAMESPACE sidekiq-probe.io/injection=enabled",
		`sidekiq-probe.io/inject: "true"`,
		"failurePolicy Ignore",
	} {
		if !strings.Contains(notes, step) {
			t.Errorf("NOTES.txt does not say %q:\n%s", step, notes)
		}
	}
}
