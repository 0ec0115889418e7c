package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// readDocuments splits a YAML stream ("---" separated) or a JSON stream
// into one JSON object per document; empty documents are dropped.
func readDocuments(r io.Reader) ([][]byte, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs [][]byte
	for n := 1; ; n++ {
		var doc json.RawMessage
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 || bytes.Equal(doc, []byte("null")) {
			continue
		}
		docs = append(docs, doc)
	}
}

// injectDocument injects one object, or each item of a v1 List, and prints
// warnings to stderr. Errors name the object.
func injectDocument(doc []byte, opts webhook.Options, stderr io.Writer) ([]byte, error) {
	var list struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(doc, &list); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if list.APIVersion != "v1" || list.Kind != "List" {
		return injectObject(doc, opts, stderr)
	}

	var errs []error
	items := make([]json.RawMessage, len(list.Items))
	for i, item := range list.Items {
		out, err := injectObject(item, opts, stderr)
		items[i], errs = out, append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Put the items back into the List as it was, keeping its other fields.
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(doc, &whole); err != nil {
		return nil, err
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	whole["items"] = b
	return json.Marshal(whole)
}

func injectObject(obj []byte, opts webhook.Options, stderr io.Writer) ([]byte, error) {
	out, outcome, err := webhook.MutateObject(obj, opts)
	name := objectName(obj)
	for _, w := range outcome.Warnings {
		fmt.Fprintf(stderr, "Warning: %s: %s\n", name, w)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// objectName is Kind/name, with the namespace when given: the way kubectl
// names an object.
func objectName(obj []byte) string {
	var o struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name, Namespace, GenerateName string
		} `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &o) // a name is best effort; the object was read already
	name := o.Metadata.Name
	if name == "" {
		name = o.Metadata.GenerateName + "*"
	}
	if o.Metadata.Namespace != "" {
		return fmt.Sprintf("%s/%s (namespace %s)", o.Kind, name, o.Metadata.Namespace)
	}
	return o.Kind + "/" + name
}
