package webhook

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// TestMutateObject_AppendsOnly holds the rule jsondiff.Patch depends on: the
// mutation only appends to lists. jsonpatch compares lists by index, so a
// mutation that inserted before an existing element (a sidecar first, a
// volume before the user's) would subtract the wrong decoding-noise op and
// move a field the Go types do not know onto another element. For every
// golden input, each list of the input must be, element by element, the
// same prefix of the mutation's list at the same place.
func TestMutateObject_AppendsOnly(t *testing.T) {
	inputs := goldenFiles(t, ".in.yaml")
	for _, path := range inputs {
		name := strings.TrimSuffix(filepath.Base(path), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			raw := readJSON(t, path)
			mutated, _, err := MutateObject(raw, testOptions(name))
			if err != nil {
				return // an invalid input: TestMutateObject_Golden checks its error
			}
			var in, out any
			if err := yaml.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(mutated, &out); err != nil {
				t.Fatal(err)
			}
			for _, problem := range notAppended("", in, out) {
				t.Error(problem)
			}
		})
	}
}

// notAppended walks in and out together. An object may gain or change
// fields (the mutation sets them); a list must keep each of its elements at
// its index: an element with a name keeps its name, any other keeps its
// value, and both are walked further. The sidecar's own fields are not
// walked: the webhook owns them and resets an edited sidecar whole
// (pod-sidecar-partial), but the sidecar itself keeps its index.
func notAppended(path string, in, out any) []string {
	switch in := in.(type) {
	case map[string]any:
		o, ok := out.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: an object became %T", path, out)}
		}
		var problems []string
		for k, v := range in {
			if ov, found := o[k]; found {
				problems = append(problems, notAppended(path+"/"+k, v, ov)...)
			}
		}
		return problems
	case []any:
		o, ok := out.([]any)
		if !ok || len(o) < len(in) {
			return []string{fmt.Sprintf("%s: a list of %d became %v", path, len(in), out)}
		}
		var problems []string
		for i, v := range in {
			at := fmt.Sprintf("%s/%d", path, i)
			if !sameElement(v, o[i]) {
				problems = append(problems, fmt.Sprintf("%s: %s is now %s: something was inserted before it", at, describe(v), describe(o[i])))
				continue
			}
			if !isSidecar(v) {
				problems = append(problems, notAppended(at, v, o[i])...)
			}
		}
		return problems
	}
	return nil
}

func isSidecar(v any) bool {
	m, ok := v.(map[string]any)
	return ok && m["name"] == contract.ContainerName
}

// sameElement says whether b is still the list element a: the same name
// for a named object, the same value for anything else.
func sameElement(a, b any) bool {
	am, aIsObject := a.(map[string]any)
	bm, bIsObject := b.(map[string]any)
	if aIsObject != bIsObject {
		return false
	}
	if !aIsObject {
		return reflect.DeepEqual(a, b)
	}
	name, named := am["name"]
	return !named || reflect.DeepEqual(name, bm["name"])
}

// describe names a list element in a failure: its name, else its value.
func describe(v any) string {
	if m, ok := v.(map[string]any); ok && m["name"] != nil {
		return fmt.Sprintf("the element named %q", m["name"])
	}
	return fmt.Sprintf("%v", v)
}
