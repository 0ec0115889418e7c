package webhook

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	corev1 "k8s.io/api/core/v1"
)

// FuzzPruneUnchanged checks that pruning never changes a patch: for any
// three JSON documents, the patch diffed from the pruned documents holds
// the same ops as the one diffed from the whole ones. The seeds are the
// golden inputs and the benchmark pod, each with its real original and
// mutated encodings, as createPatch sees them.
func FuzzPruneUnchanged(f *testing.F) {
	inputs := goldenFiles(f, ".in.yaml")
	for _, in := range inputs {
		for _, native := range []bool{true, false} {
			addPatchInputs(f, readJSON(f, in), native)
		}
	}
	review, err := os.ReadFile(benchReview)
	if err != nil {
		f.Fatal(err)
	}
	var r struct {
		Request struct{ Object json.RawMessage }
	}
	if err := json.Unmarshal(review, &r); err != nil {
		f.Fatal(err)
	}
	addPatchInputs(f, r.Request.Object, true)
	f.Add([]byte(`{"a":{"x":1,"y":[1,2]},"b":2}`), []byte(`{"a":{"x":1,"y":[1,2]},"b":2,"c":null}`), []byte(`{"a":{"x":1,"y":[1,3]},"b":2}`))
	f.Add([]byte(`{"a\u002fb":[{"k":"v"}],"x":"}"}`), []byte(`{"a/b":[{"k":"v"}]}`), []byte(`{"a/b":[{"k":"w"}],"x":"]"}`))

	f.Fuzz(func(t *testing.T, raw, original, mutated []byte) {
		if !json.Valid(raw) || !json.Valid(original) || !json.Valid(mutated) {
			return
		}
		want, errWant := diffPatch(raw, original, mutated)
		got, errGot := diffPatch(pruneUnchanged(raw, original, mutated))
		if (errWant != nil) != (errGot != nil) {
			t.Fatalf("error %v, pruned: %v", errWant, errGot)
		}
		if w, g := opKeys(want), opKeys(got); !slices.Equal(w, g) {
			t.Fatalf("pruning changed the patch:\nwhole:  %q\npruned: %q", w, g)
		}
	})
}

// addPatchInputs adds a seed from a pod or a workload: its pod template as
// raw JSON, decoded and encoded (original), and mutated.
func addPatchInputs(f *testing.F, obj []byte, native bool) {
	if raw, original, mutated, ok := patchInputs(f, obj, native); ok {
		f.Add(raw, original, mutated)
	}
}

// patchInputs are the three documents createPatch sees for a pod or a
// workload; ok is false when it holds no template or is denied.
func patchInputs(tb testing.TB, obj []byte, native bool) (raw, original, mutated []byte, ok bool) {
	var doc map[string]any
	if err := unmarshalNumbers(obj, &doc); err != nil {
		tb.Fatal(err)
	}
	kind, _ := doc["kind"].(string)
	path, ok := templatePaths[kind]
	if !ok {
		return nil, nil, nil, false
	}
	tmplDoc, _ := lookup(doc, path)
	raw, err := json.Marshal(tmplDoc)
	if err != nil {
		tb.Fatal(err)
	}
	var tmpl corev1.PodTemplateSpec
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		tb.Fatal(err)
	}
	out, _, err := Mutate(&tmpl, Options{SidecarImage: "img", NativeSidecar: native, DefaultMaxJobSeconds: DefaultMaxJobSeconds})
	if err != nil {
		return nil, nil, nil, false // a denial: no patch
	}
	if original, err = json.Marshal(&tmpl); err != nil {
		tb.Fatal(err)
	}
	if mutated, err = json.Marshal(out); err != nil {
		tb.Fatal(err)
	}
	return raw, original, mutated, true
}

func opKeys(ops []jsonpatch.JsonPatchOperation) []string {
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = opKey(op)
	}
	slices.Sort(keys)
	return keys
}

// TestPruneUnchanged_LargeObjects covers objects past the size where a
// missed hint stops scanning and goes through an index: 200 annotations,
// raw listing them in reverse, mutated adding one in the middle and one
// removed. The pruned patch must equal the whole one, and the unchanged
// annotations must be cut.
func TestPruneUnchanged_LargeObjects(t *testing.T) {
	tests := map[string]struct{ reversed bool }{
		"raw in the same order as original": {},
		"raw in reverse order":              {reversed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			keys := make([]string, 200)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%03d", i)
			}
			object := func(keys []string, extra string) []byte {
				var b strings.Builder
				b.WriteString(`{"metadata":{"annotations":{`)
				for i, k := range keys {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%q:%q", k, "v")
					if extra != "" && k == "k100" {
						b.WriteString("," + extra)
					}
				}
				b.WriteString(`}}}`)
				return []byte(b.String())
			}
			rawKeys := slices.Clone(keys)
			if tc.reversed {
				slices.Reverse(rawKeys)
			}
			raw, original := object(rawKeys, ""), object(keys, "")
			mutated := object(slices.Delete(slices.Clone(keys), 5, 6), `"k100a":"added"`)

			want, err := diffPatch(raw, original, mutated)
			if err != nil {
				t.Fatal(err)
			}
			r, o, m := pruneUnchanged(raw, original, mutated)
			got, err := diffPatch(r, o, m)
			if err != nil {
				t.Fatal(err)
			}
			if w, g := opKeys(want), opKeys(got); !slices.Equal(w, g) || len(w) != 2 {
				t.Fatalf("pruning changed the patch or it is not one add and one remove:\nwhole:  %q\npruned: %q", w, g)
			}
			if len(m) > 100 {
				t.Errorf("the unchanged annotations were not cut: %d bytes left", len(m))
			}
		})
	}
}
