package jsondiff_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// inputs are the three documents Patch sees: a pod template as it was
// sent, decoded and encoded again, and mutated.
type inputs struct{ raw, original, mutated []byte }

// realInputs are the inputs of every golden case of package webhook that
// the webhook injects, in both sidecar forms, and of the benchmark pod.
func realInputs(tb testing.TB) []inputs {
	tb.Helper()
	files, err := filepath.Glob("../../testdata/*.in.yaml")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden inputs in webhook/testdata: %v", err)
	}
	var all []inputs
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := yaml.YAMLToJSON(b)
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		for _, native := range []bool{true, false} {
			if in, ok := mutationOf(tb, podTemplate(tb, doc), native); ok {
				all = append(all, in)
			}
		}
	}
	in, _ := mutationOf(tb, benchPod(tb), true)
	return append(all, in)
}

// mutationOf mutates a pod template; ok is false when the webhook leaves
// it alone or denies it.
func mutationOf(tb testing.TB, raw []byte, native bool) (in inputs, ok bool) {
	tb.Helper()
	if raw == nil {
		return inputs{}, false
	}
	var tmpl corev1.PodTemplateSpec
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		tb.Fatal(err)
	}
	opts := webhook.Options{SidecarImage: "img", NativeSidecar: native, DefaultMaxJobSeconds: webhook.DefaultMaxJobSeconds}
	out, outcome, err := webhook.Mutate(&tmpl, opts)
	if err != nil || outcome.Skip != webhook.NotSkipped {
		return inputs{}, false
	}
	in.raw = raw
	in.original, in.mutated = marshal(tb, &tmpl), marshal(tb, out)
	return in, true
}

// podTemplate finds the pod template of a golden input: a Pod is its own,
// a workload keeps it under spec.template (a CronJob one level deeper).
func podTemplate(tb testing.TB, doc []byte) []byte {
	var obj struct {
		Kind string
		Spec struct {
			Template    json.RawMessage
			JobTemplate struct {
				Spec struct{ Template json.RawMessage }
			}
		}
	}
	if err := json.Unmarshal(doc, &obj); err != nil {
		tb.Fatal(err)
	}
	switch {
	case obj.Kind == "Pod":
		return doc
	case obj.Spec.Template != nil:
		return obj.Spec.Template
	}
	return obj.Spec.JobTemplate.Spec.Template
}

// benchPod is the benchmark review's pod, as the API server sends it.
func benchPod(tb testing.TB) []byte {
	var review struct {
		Request struct{ Object json.RawMessage }
	}
	if err := json.Unmarshal(testkit.CompactBenchReview(tb), &review); err != nil {
		tb.Fatal(err)
	}
	return review.Request.Object
}

func marshal(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
