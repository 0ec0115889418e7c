// Package chart_test checks the Helm chart charts/sidekiq-probe with the real
// helm binary (built into bin/ by `make deps`): it lints the chart, renders it
// with `helm template` and decodes every rendered object into its k8s.io/api
// type, strictly, so a misspelled field fails like it would on a cluster.
package chart_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

const (
	// A go-installed helm reports Kubernetes v1.20, below the chart's
	// kubeVersion; the tests render for the version the e2e tests run.
	kubeVersion = "v1.37.2"
	release     = "sidekiq-probe"
	namespace   = "sidekiq-probe"
)

var chartDir = filepath.Join("..", "..", "charts", "sidekiq-probe")

// helm runs the real helm (testkit.RunHelm) and returns its output as
// text; the error holds helm's standard error.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := testkit.RunHelm(t, args...)
	return string(out), err
}

// valuesFile writes a values file and returns the flags that pass it.
func valuesFile(t *testing.T, values string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--values", path}
}

// templateArgs are the arguments of `helm template` for the chart, with extra
// flags (--set, --values, --api-versions) appended.
func templateArgs(extra ...string) []string {
	args := []string{"template", release, chartDir, "--namespace", namespace, "--kube-version", kubeVersion}
	return append(args, extra...)
}

// render runs `helm template` and decodes what it prints; it fails the test
// if helm fails or an object does not decode.
func render(t *testing.T, extra ...string) []runtime.Object {
	t.Helper()
	out, err := helm(t, templateArgs(extra...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", extra, err)
	}
	objs, err := decode(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", extra, err)
	}
	return objs
}

// strictDecoder fails on unknown and duplicate fields.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decode splits a multi-document YAML stream and decodes each object into
// its typed Go struct. Kinds client-go does not know (cert-manager's,
// the Prometheus Operator's) come back as *unstructured.Unstructured.
func decode(manifest string) ([]runtime.Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var objs []runtime.Object
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if isEmpty(doc) {
			continue
		}
		obj, _, err := strictDecoder.Decode(doc, nil, nil)
		if runtime.IsNotRegisteredError(err) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				return nil, err
			}
			obj, err = u, nil
		}
		if err != nil {
			return nil, errors.New(err.Error() + " in:\n" + string(doc))
		}
		objs = append(objs, obj)
	}
}

// isEmpty reports a document with nothing but comments and blank lines.
func isEmpty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
