package webhook

import (
	"encoding/json"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
)

// createPatch returns the JSON patch from raw (the object as the user or the
// API server sent it) to mutated, minus the scheme noise.
//
// Decoding raw into a Go type and encoding it again is not the identity:
// fields the type does not know vanish (a "remove" op would delete them)
// and empty defaults appear ("creationTimestamp": null). Those differences
// are exactly the ops of the patch from raw to original (raw decoded and
// re-encoded, unmutated); an op found in both patches is noise and is
// dropped, so the patch holds only what the mutation changed. This is
// controller-runtime's dropSchemeRemovals, applied to every kind of op.
//
// The mutation only appends to lists, so an index names the same element in
// both patches (TestMutateObject_AppendsOnly holds it).
func createPatch(raw []byte, original, mutated any) ([]jsonpatch.JsonPatchOperation, error) {
	originalJSON, err := json.Marshal(original)
	if err != nil {
		return nil, err
	}
	mutatedJSON, err := json.Marshal(mutated)
	if err != nil {
		return nil, err
	}
	r, o, m := pruneUnchanged(raw, originalJSON, mutatedJSON)
	m, added := setAsideAdditions(r, o, m)
	ops, err := diffPatch(r, o, m)
	if err != nil {
		return nil, err
	}
	restoreAdditions(ops, added)
	return ops, nil
}

// diffPatch is the patch from raw to mutated minus the patch from raw to
// original.
func diffPatch(raw, original, mutated []byte) ([]jsonpatch.JsonPatchOperation, error) {
	ops, err := jsonpatch.CreatePatch(raw, mutated)
	if err != nil {
		return nil, err
	}
	noise, err := jsonpatch.CreatePatch(raw, original)
	if err != nil {
		return nil, err
	}
	return withoutNoise(ops, noise), nil
}

func withoutNoise(ops, noise []jsonpatch.JsonPatchOperation) []jsonpatch.JsonPatchOperation {
	if len(noise) == 0 {
		return ops
	}
	seen := make(map[string]bool, len(noise))
	for _, op := range noise {
		seen[opKey(op)] = true
	}
	return slices.DeleteFunc(ops, func(op jsonpatch.JsonPatchOperation) bool { return seen[opKey(op)] })
}

// opKey identifies an op by its JSON form: its value may be a map or slice,
// which Go cannot compare or use as a map key.
func opKey(op jsonpatch.JsonPatchOperation) string {
	b, _ := json.Marshal(op) // a value decoded from JSON always encodes
	return string(b)
}
