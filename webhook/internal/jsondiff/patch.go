package jsondiff

import (
	"encoding/json"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
)

// Patch returns the JSON patch from raw (the object as the user or the API
// server sent it) to mutated, minus the scheme noise: original is raw
// decoded into its Go type, unmutated, and mutated is the mutation's copy.
//
// Decoding raw into a Go type and encoding it again is not the identity:
// fields the type does not know vanish (a "remove" op would delete them)
// and empty defaults appear ("creationTimestamp": null). Those differences
// are exactly the ops of the patch from raw to original; an op found in
// both patches is noise and is dropped, so the patch holds only what the
// mutation changed. This is controller-runtime's dropSchemeRemovals,
// applied to every kind of op.
//
// The mutation must only append to lists: jsonpatch compares arrays by
// index, so an index must name the same element in both patches
// (webhook's TestMutateObject_AppendsOnly holds it).
func Patch(raw []byte, original, mutated any) ([]jsonpatch.Operation, error) {
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
	ops, err := diff(r, o, m)
	if err != nil {
		return nil, err
	}
	restoreAdditions(ops, added)
	return ops, nil
}

// diff is the patch from raw to mutated minus the patch from raw to
// original: what Patch returns, without its shortcuts.
func diff(raw, original, mutated []byte) ([]jsonpatch.Operation, error) {
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

func withoutNoise(ops, noise []jsonpatch.Operation) []jsonpatch.Operation {
	if len(noise) == 0 {
		return ops
	}
	seen := make(map[string]bool, len(noise))
	for _, op := range noise {
		seen[opKey(op)] = true
	}
	return slices.DeleteFunc(ops, func(op jsonpatch.Operation) bool { return seen[opKey(op)] })
}

// opKey identifies an op by its JSON form: its value may be a map or slice,
// which Go cannot compare or use as a map key.
func opKey(op jsonpatch.Operation) string {
	b, _ := json.Marshal(op) // a value decoded from JSON always encodes
	return string(b)
}
