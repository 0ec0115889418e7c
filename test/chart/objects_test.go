package chart_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// all returns every rendered object of type T.
func all[T runtime.Object](objs []runtime.Object) []T {
	var found []T
	for _, obj := range objs {
		if typed, ok := obj.(T); ok {
			found = append(found, typed)
		}
	}
	return found
}

// only returns the one rendered object of type T.
func only[T runtime.Object](t *testing.T, objs []runtime.Object) T {
	t.Helper()
	found := all[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, rendered %d", zero, len(found))
	}
	return found[0]
}

// byKind returns the rendered objects of a kind client-go does not know.
func byKind(objs []runtime.Object, kind string) []*unstructured.Unstructured {
	var found []*unstructured.Unstructured
	for _, u := range all[*unstructured.Unstructured](objs) {
		if u.GetKind() == kind {
			found = append(found, u)
		}
	}
	return found
}

// webhookContainer returns the Deployment's only container.
func webhookContainer(t *testing.T, dep *appsv1.Deployment) corev1.Container {
	t.Helper()
	containers := dep.Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("want one container in the Deployment, got %d", len(containers))
	}
	return containers[0]
}

// serveFlags returns the `serve` flags the webhook container is given, as
// name -> value ("--port=9443" -> "port": "9443").
func serveFlags(t *testing.T, dep *appsv1.Deployment) map[string]string {
	t.Helper()
	args := webhookContainer(t, dep).Args
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("want args starting with the serve subcommand, got %q", args)
	}
	flags := map[string]string{}
	for _, arg := range args[1:] {
		name, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !ok || !strings.HasPrefix(arg, "--") {
			t.Fatalf("want every flag as --name=value, got %q", arg)
		}
		if _, dup := flags[name]; dup {
			t.Fatalf("flag --%s given twice", name)
		}
		flags[name] = value
	}
	return flags
}
