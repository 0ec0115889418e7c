package webhook

import (
	"encoding/json"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// FuzzMutate feeds arbitrary JSON pods (seeded with the golden inputs) to
// Mutate and MutateObject: they must never panic, fail only with an
// *InvalidError, and Mutate(Mutate(p)) must equal Mutate(p).
func FuzzMutate(f *testing.F) {
	inputs := goldenFiles(f, ".in.yaml")
	for _, in := range inputs {
		f.Add(readJSON(f, in))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		for _, native := range []bool{true, false} {
			opts := Options{SidecarImage: "img", NativeSidecar: native, DefaultMaxJobSeconds: DefaultMaxJobSeconds}
			_, _, _ = MutateObject(obj, opts) // must not panic

			var pod corev1.Pod
			if json.Unmarshal(obj, &pod) != nil {
				return
			}
			tmpl := &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}
			once, _, err := Mutate(tmpl, opts)
			var invalid *InvalidError
			if err != nil && !errors.As(err, &invalid) {
				t.Fatalf("error is not an *InvalidError: %v", err)
			}
			if err != nil {
				continue
			}
			twice, _, err := Mutate(once, opts)
			if err != nil {
				t.Fatalf("mutating the output failed: %v", err)
			}
			if !equality.Semantic.DeepEqual(once, twice) {
				t.Fatalf("not idempotent (native=%v)", native)
			}
		}
	})
}
