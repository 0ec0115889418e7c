package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"

	jsonpatch5 "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook/internal/jsondiff"
)

// templatePaths says where each kind keeps its pod template; a Pod is its
// own template. Kinds not listed hold none and pass through unchanged.
var templatePaths = map[string][]string{
	"Pod":                   nil,
	"PodTemplate":           {"template"},
	"Deployment":            {"spec", "template"},
	"StatefulSet":           {"spec", "template"},
	"DaemonSet":             {"spec", "template"},
	"ReplicaSet":            {"spec", "template"},
	"ReplicationController": {"spec", "template"},
	"Job":                   {"spec", "template"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template"},
}

// MutateObject runs Mutate on the pod template of a JSON object of any
// kind, and returns the object with only the mutation's changes applied:
// fields and formatting the Go types do not know are kept as they were.
// An object that holds no template comes back as it was, with the skip
// reason NoPodTemplate.
func MutateObject(obj []byte, opts Options) ([]byte, Outcome, error) {
	var doc map[string]any
	if err := unmarshalNumbers(obj, &doc); err != nil {
		return nil, Outcome{}, err
	}
	kind, _ := doc["kind"].(string)
	path, ok := templatePaths[kind]
	if !ok {
		return obj, Outcome{Skip: NoPodTemplate}, nil
	}
	raw, found := lookup(doc, path)
	if !found {
		return obj, Outcome{Skip: NoPodTemplate}, nil
	}
	rawJSON, err := json.Marshal(raw)
	if err != nil {
		return nil, Outcome{}, err
	}

	var tmpl corev1.PodTemplateSpec
	if err := json.Unmarshal(rawJSON, &tmpl); err != nil {
		return nil, Outcome{}, fmt.Errorf("reading the pod template: %w", err)
	}
	out, outcome, err := Mutate(&tmpl, opts)
	if err != nil || out == &tmpl {
		return obj, outcome, err
	}

	ops, err := jsondiff.Patch(rawJSON, &tmpl, out)
	if err != nil {
		return nil, Outcome{}, err
	}
	patchJSON, err := json.Marshal(ops)
	if err != nil {
		return nil, Outcome{}, err
	}
	patched, err := applyPatch(rawJSON, patchJSON)
	if err != nil {
		return nil, Outcome{}, fmt.Errorf("applying the patch: %w", err)
	}
	var newTmpl any
	if err := unmarshalNumbers(patched, &newTmpl); err != nil {
		return nil, Outcome{}, err
	}
	if len(path) == 0 {
		result, err := json.Marshal(newTmpl)
		return result, outcome, err
	}
	parent, _ := lookup(doc, path[:len(path)-1])
	parent.(map[string]any)[path[len(path)-1]] = newTmpl
	result, err := json.Marshal(doc)
	return result, outcome, err
}

// unmarshalNumbers keeps numbers as written: a float64 would round large
// integers.
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// lookup walks maps along path; found is false when a step is missing or
// not an object.
func lookup(doc map[string]any, path []string) (v any, found bool) {
	var cur any = doc
	for _, key := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	_, isObject := cur.(map[string]any)
	return cur, isObject
}

// applyPatch applies a JSON patch (RFC 6902) to a JSON document.
func applyPatch(doc, patchJSON []byte) ([]byte, error) {
	patch, err := jsonpatch5.DecodePatch(patchJSON)
	if err != nil {
		return nil, err
	}
	return patch.Apply(doc)
}
