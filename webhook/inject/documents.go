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

// documents reads a YAML stream ("---" separated) or a JSON stream one
// document at a time, as JSON, so that memory follows the largest
// document, not the stream.
type documents struct {
	dec *utilyaml.YAMLOrJSONDecoder
	n   int // the number of the document last read, from 1
}

func newDocuments(r io.Reader) *documents {
	return &documents{dec: utilyaml.NewYAMLOrJSONDecoder(r, 4096)}
}

// next returns the next non-empty document and its number; io.EOF at the
// end. An error names the document's number: a stream that cannot be read
// any further ends there.
func (d *documents) next() ([]byte, int, error) {
	for {
		d.n++
		var doc json.RawMessage
		err := d.dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil, d.n, io.EOF
		}
		if err != nil {
			return nil, d.n, fmt.Errorf("document %d: %w", d.n, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 && !bytes.Equal(doc, []byte("null")) {
			return doc, d.n, nil
		}
	}
}

// accepted is what a document may be.
const accepted = "want a Kubernetes object (a mapping with apiVersion and kind) or a v1 List of them"

// injectDocument injects document n: one object, or each item of a v1
// List, and prints warnings to stderr. Errors name the object, or the
// document's number when it is not an object at all.
func injectDocument(doc []byte, n int, opts webhook.Options, stderr io.Writer) ([]byte, error) {
	if what := kindOfValue(doc); what != "" {
		return nil, fmt.Errorf("document %d: %s is not accepted: %s", n, what, accepted)
	}
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(doc, &whole); err != nil {
		return nil, fmt.Errorf("document %d: %w", n, err)
	}
	if stringField(whole, "apiVersion") != "v1" || stringField(whole, "kind") != "List" {
		return injectObject(doc, opts, stderr)
	}

	var items []json.RawMessage
	if err := json.Unmarshal(whole["items"], &items); err != nil || items == nil {
		return nil, fmt.Errorf("document %d: the items of a v1 List are not accepted: want a list of objects", n)
	}
	var errs []error
	for i, item := range items {
		if what := kindOfValue(item); what != "" {
			errs = append(errs, fmt.Errorf("document %d, item %d of the List: %s is not accepted: want a Kubernetes object", n, i+1, what))
			continue
		}
		out, err := injectObject(item, opts, stderr)
		items[i], errs = out, append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	// Put the items back into the List as it was, keeping its other fields.
	b, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	whole["items"] = b
	return json.Marshal(whole)
}

// kindOfValue is "" for a JSON object, else what the value is, for a
// message: never a Go type.
func kindOfValue(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "an empty document"
	}
	switch v[0] {
	case '{':
		return ""
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// stringField is the member as a string, "" when absent or not a string.
func stringField(obj map[string]json.RawMessage, name string) string {
	var s string
	_ = json.Unmarshal(obj[name], &s) // anything else is simply not "v1" or "List"
	return s
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
