package jsondiff

import (
	"bytes"
	"encoding/json"
)

// member is an object's member: its key decoded (name) and as written, and
// its value; a nil value marks a member cut.
type member struct{ name, key, value []byte }

// members are an object's members in document order. They are found by
// a look at a hint first: the three documents list a pod's fields in the
// same order (Go's encoder writes struct fields in order and map keys
// sorted, and so does the API server), so the hint is nearly always right.
type members []member

// maxScan is the size up to which a miss of the hint scans the members; a
// bigger object (100,000 annotations) is looked up through an index, so
// that no order of its keys makes the work quadratic.
const maxScan = 32

// finder returns the lookup of a member by name: its index, or -1. A
// member cut by an earlier step is still found: its name stays.
func (ms members) finder() func(name []byte, hint int) int {
	var index map[string]int
	return func(name []byte, hint int) int {
		if hint >= 0 && hint < len(ms) && bytes.Equal(ms[hint].name, name) {
			return hint
		}
		if len(ms) <= maxScan {
			return ms.scan(name)
		}
		if index == nil {
			index = make(map[string]int, len(ms))
			for i := range ms {
				index[string(ms[i].name)] = i // names are unique: splitObject says so
			}
		}
		if i, ok := index[string(name)]; ok {
			return i
		}
		return -1
	}
}

func (ms members) scan(name []byte) int {
	for i := range ms {
		if bytes.Equal(ms[i].name, name) {
			return i
		}
	}
	return -1
}

func (ms members) join() []byte {
	n := 2
	for _, m := range ms {
		n += len(m.key) + len(m.value) + 2
	}
	b := make([]byte, 1, n)
	b[0] = '{'
	for _, m := range ms {
		if m.value == nil {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(append(append(b, m.key...), ':'), m.value...)
	}
	return append(b, '}')
}

func joinArray(elems [][]byte) []byte {
	n := 2
	for _, e := range elems {
		n += len(e) + 1
	}
	b := make([]byte, 1, n)
	b[0] = '['
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

// splitObject splits a JSON object into its members. ok is false when doc
// is not an object or has a key twice (which decoders resolve differently).
func splitObject(doc []byte) (ms members, ok bool) {
	b := trimSpace(doc)
	if len(b) < 2 || b[0] != '{' {
		return nil, false
	}
	b = trimSpace(b[1:])
	if len(b) > 0 && b[0] == '}' {
		return members{}, len(trimSpace(b[1:])) == 0
	}
	ms = make(members, 0, 16) // most of a pod's objects: one allocation
	var seen map[string]bool  // the names, once a scan would cost too much
	for {
		var m member
		if m.key, b, ok = nextValue(b); !ok || m.key[0] != '"' {
			return nil, false
		}
		if b = trimSpace(b); len(b) == 0 || b[0] != ':' {
			return nil, false
		}
		if m.value, b, ok = nextValue(b[1:]); !ok {
			return nil, false
		}
		if m.name, ok = unquote(m.key); !ok || ms.has(m.name, &seen) {
			return nil, false
		}
		ms = append(ms, m)
		switch b = trimSpace(b); {
		case len(b) == 0:
			return nil, false
		case b[0] == '}':
			return ms, len(trimSpace(b[1:])) == 0
		case b[0] != ',':
			return nil, false
		}
		b = b[1:]
	}
}

// has tells whether ms already holds name, scanning while ms is small and
// through *seen (built on first need, then kept up to date) after that.
func (ms members) has(name []byte, seen *map[string]bool) bool {
	if len(ms) < maxScan {
		return ms.scan(name) >= 0
	}
	if *seen == nil {
		*seen = make(map[string]bool, 2*len(ms))
		for i := range ms {
			(*seen)[string(ms[i].name)] = true
		}
	}
	if (*seen)[string(name)] {
		return true
	}
	(*seen)[string(name)] = true
	return false
}

// splitArray splits a JSON array into its elements.
func splitArray(doc []byte) (elems [][]byte, ok bool) {
	b := trimSpace(doc)
	if len(b) < 2 || b[0] != '[' {
		return nil, false
	}
	b = trimSpace(b[1:])
	if len(b) > 0 && b[0] == ']' {
		return [][]byte{}, len(trimSpace(b[1:])) == 0
	}
	for {
		var elem []byte
		if elem, b, ok = nextValue(b); !ok {
			return nil, false
		}
		elems = append(elems, elem)
		switch b = trimSpace(b); {
		case len(b) == 0:
			return nil, false
		case b[0] == ']':
			return elems, len(trimSpace(b[1:])) == 0
		case b[0] != ',':
			return nil, false
		}
		b = b[1:]
	}
}

// nextValue cuts the JSON value at the start of b from the rest. It only
// finds the value's end (strings, nesting); the diff validates the content.
func nextValue(b []byte) (value, rest []byte, ok bool) {
	b = trimSpace(b)
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i)
			if end < 0 {
				return nil, nil, false
			}
			if depth == 0 {
				return b[:end], b[end:], true
			}
			i = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 { // the end of the object or array holding a scalar
				return b[:i], b[i:], i > 0
			}
			if depth--; depth == 0 {
				return b[:i+1], b[i+1:], true
			}
		case ',', ':', ' ', '\t', '\r', '\n':
			if depth == 0 { // the end of a number, true, false or null
				return b[:i], b[i:], i > 0
			}
		}
	}
	return b, nil, depth == 0 && len(b) > 0
}

// stringEnd returns the index just past the string starting at b[start], or
// -1 when it does not end. Most of a pod's bytes are in strings: jumping
// from quote to quote is what makes the scan cheap.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return -1
		}
		i += q
		backslashes := 0
		for k := i - 1; k > start && b[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 { // not an escaped quote
			return i + 1
		}
	}
	return -1
}

// unquote decodes a JSON string; the common key with no escape is a
// slice of s, not a copy.
func unquote(s []byte) ([]byte, bool) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && bytes.IndexByte(s, '\\') < 0 {
		return s[1 : len(s)-1], true
	}
	var k string
	if json.Unmarshal(s, &k) != nil {
		return nil, false
	}
	return []byte(k), true
}

// trimSpace is bytes.TrimLeft(b, " \t\r\n") without building the cutset
// on every call: it runs before every value.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
