package jsondiff_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"gomodules.xyz/jsonpatch/v2"

	"sidekiq-probe.io/sidekiq-probe/webhook/internal/jsondiff"
)

// FuzzPatch holds the door to what it promises: for any three JSON
// documents, Patch gives the ops of the plain diff (raw to mutated, minus
// raw to original), whatever shortcuts it takes. Values are compared
// decoded, since a value set aside keeps its members in the order written.
func FuzzPatch(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, raw, original, mutated []byte) {
		if !allValid(raw, original, mutated) {
			return
		}
		want, errWant := jsondiff.Diff(raw, original, mutated)
		got, errGot := jsondiff.Patch(raw, json.RawMessage(original), json.RawMessage(mutated))
		sameOps(t, "Patch", want, errWant, got, errGot)
	})
}

// FuzzPruneUnchanged checks that pruning never changes a patch: the patch
// diffed from the pruned documents holds the same ops as the one diffed
// from the whole ones.
func FuzzPruneUnchanged(f *testing.F) {
	addSeeds(f, false)
	f.Add([]byte(`{"a":{"x":1,"y":[1,2]},"b":2}`), []byte(`{"a":{"x":1,"y":[1,2]},"b":2,"c":null}`), []byte(`{"a":{"x":1,"y":[1,3]},"b":2}`))
	f.Add([]byte(`{"a\u002fb":[{"k":"v"}],"x":"}"}`), []byte(`{"a/b":[{"k":"v"}]}`), []byte(`{"a/b":[{"k":"w"}],"x":"]"}`))

	f.Fuzz(func(t *testing.T, raw, original, mutated []byte) {
		if !allValid(raw, original, mutated) {
			return
		}
		want, errWant := jsondiff.Diff(raw, original, mutated)
		got, errGot := jsondiff.Diff(jsondiff.PruneUnchanged(raw, original, mutated))
		sameOps(t, "pruned", want, errWant, got, errGot)
	})
}

// FuzzSetAsideAdditions checks that setting additions aside never changes
// a patch: the patch diffed with placeholders and restored holds the same
// ops as the one diffed from the documents as they are. Its seeds are
// also the real inputs pruned, as Patch sets aside after pruning.
func FuzzSetAsideAdditions(f *testing.F) {
	addSeeds(f, true)
	f.Add([]byte(`{"a":[1]}`), []byte(`{"a":[1,2]}`), []byte(`{"a":[1,{"x":1},[3]]}`))
	f.Add([]byte(`{"a":{}}`), []byte(`{"a":[]}`), []byte(`{"a":{"b":{"c":1}}}`))
	f.Add([]byte(`{"a":"\u0000added:0"}`), []byte(`{}`), []byte(`{"b":{"c":"\u0000added:0"}}`))

	f.Fuzz(func(t *testing.T, raw, original, mutated []byte) {
		if !allValid(raw, original, mutated) {
			return
		}
		want, errWant := jsondiff.Diff(raw, original, mutated)
		m, added := jsondiff.SetAsideAdditions(raw, original, mutated)
		got, errGot := jsondiff.Diff(raw, original, m)
		jsondiff.RestoreAdditions(got, added)
		sameOps(t, "set aside", want, errWant, got, errGot)
	})
}

func allValid(docs ...[]byte) bool {
	for _, doc := range docs {
		if !json.Valid(doc) {
			return false
		}
	}
	return true
}

// sameOps fails t unless got (from the shortcut named how) holds the ops
// of want, the plain diff, and fails where it fails.
func sameOps(t *testing.T, how string, want []jsonpatch.Operation, errWant error, got []jsonpatch.Operation, errGot error) {
	t.Helper()
	if (errWant != nil) != (errGot != nil) {
		t.Fatalf("plain diff: error %v; %s: error %v", errWant, how, errGot)
	}
	if w, g := decodedOps(t, want), decodedOps(t, got); !slices.Equal(w, g) {
		t.Fatalf("%s is not the plain diff:\nplain:  %q\n%s: %q", how, w, how, g)
	}
}

// addSeeds adds the real inputs, and with pruned, each pruned too.
func addSeeds(f *testing.F, pruned bool) {
	for _, in := range realInputs(f) {
		f.Add(in.raw, in.original, in.mutated)
		if pruned {
			f.Add(jsondiff.PruneUnchanged(in.raw, in.original, in.mutated))
		}
	}
}

// decodedOps are the ops as sorted JSON, each value decoded and encoded
// again so that its members are in one order and its numbers as written.
func decodedOps(t *testing.T, ops []jsonpatch.Operation) []string {
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
