package webhook

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
)

// FuzzSetAsideAdditions checks that setting additions aside never changes
// a patch: for any three JSON documents, the patch diffed with placeholders
// and restored holds the same ops as the one diffed from the documents as
// they are. Values are compared decoded, since a restored value keeps the
// order of its members as written. The seeds are those of
// FuzzPruneUnchanged, pruned and whole.
func FuzzSetAsideAdditions(f *testing.F) {
	inputs := goldenFiles(f, ".in.yaml")
	for _, in := range inputs {
		for _, native := range []bool{true, false} {
			if raw, original, mutated, ok := patchInputs(f, readJSON(f, in), native); ok {
				f.Add(raw, original, mutated)
				r, o, m := pruneUnchanged(raw, original, mutated)
				f.Add(r, o, m)
			}
		}
	}
	f.Add([]byte(`{"a":[1]}`), []byte(`{"a":[1,2]}`), []byte(`{"a":[1,{"x":1},[3]]}`))
	f.Add([]byte(`{"a":{}}`), []byte(`{"a":[]}`), []byte(`{"a":{"b":{"c":1}}}`))
	f.Add([]byte(`{"a":"\u0000added:0"}`), []byte(`{}`), []byte(`{"b":{"c":"\u0000added:0"}}`))

	f.Fuzz(func(t *testing.T, raw, original, mutated []byte) {
		if !json.Valid(raw) || !json.Valid(original) || !json.Valid(mutated) {
			return
		}
		want, errWant := diffPatch(raw, original, mutated)
		m, added := setAsideAdditions(raw, original, mutated)
		got, errGot := diffPatch(raw, original, m)
		if (errWant != nil) != (errGot != nil) {
			t.Fatalf("error %v, set aside: %v", errWant, errGot)
		}
		restoreAdditions(got, added)
		if w, g := decodedOps(t, want), decodedOps(t, got); !slices.Equal(w, g) {
			t.Fatalf("setting additions aside changed the patch:\nas is:     %q\nset aside: %q", w, g)
		}
	})
}

// decodedOps are the ops as sorted JSON, each value decoded and encoded
// again so that its members are in one order.
func decodedOps(t *testing.T, ops []jsonpatch.JsonPatchOperation) []string {
	keys := make([]string, len(ops))
	for i, op := range ops {
		b, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		keys[i] = string(b)
	}
	slices.Sort(keys)
	return keys
}
