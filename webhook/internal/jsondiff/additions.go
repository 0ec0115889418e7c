package jsondiff

import (
	"bytes"
	"encoding/json"
	"strconv"

	"gomodules.xyz/jsonpatch/v2"
)

// additions are the values setAsideAdditions took out of the mutated
// document, by the placeholder string left in their place.
type additions map[string]json.RawMessage

// placeholderPrefix starts every placeholder. A NUL can only appear in the
// JSON that encoding/json writes as the escape \u0000, so a mutated
// document without that escape holds no string a placeholder could be
// confused with.
const placeholderPrefix = "\x00added:"

// setAsideAdditions replaces in mutated every object or array value that
// neither raw nor original has at its path (an object member absent from
// both, an array element past the end of both) by a placeholder string, and
// returns what it set aside. Such a value is one "add" of the whole value
// at its path in the raw-to-mutated diff, and nothing in the raw-to-original
// diff, whatever it holds: the diff only needs a stand-in, and
// restoreAdditions puts the value back into the patch as the bytes
// json.Marshal wrote. On a pod these are the sidecar container and the
// probes, most of the patch, which the diff would otherwise decode into
// maps and the response encode again.
//
// It only descends where all three documents hold an object (or an array)
// at the same path, as the diffs do; anywhere else a value is left as it
// is. FuzzSetAsideAdditions checks that the patch is the same either way.
func setAsideAdditions(raw, original, mutated []byte) ([]byte, additions) {
	if bytes.Contains(mutated, []byte(`\u0000`)) {
		return mutated, nil
	}
	var added additions
	return setAside(raw, original, mutated, &added), added
}

func setAside(raw, original, mutated []byte, added *additions) []byte {
	if mm, ok := splitObject(mutated); ok {
		rm, okR := splitObject(raw)
		om, okO := splitObject(original)
		if !okR || !okO {
			return mutated
		}
		findR, findO := rm.finder(), om.finder()
		for i := range mm {
			ri, oi := findR(mm[i].name, i), findO(mm[i].name, i)
			switch {
			case ri < 0 && oi < 0:
				mm[i].value = added.put(mm[i].value)
			case ri >= 0 && oi >= 0:
				mm[i].value = setAside(rm[ri].value, om[oi].value, mm[i].value, added)
			}
		}
		return mm.join()
	}
	if ma, ok := splitArray(mutated); ok {
		ra, okR := splitArray(raw)
		oa, okO := splitArray(original)
		if !okR || !okO {
			return mutated
		}
		for i := range ma {
			if i < len(ra) && i < len(oa) {
				ma[i] = setAside(ra[i], oa[i], ma[i], added)
			} else if i >= len(ra) && i >= len(oa) {
				ma[i] = added.put(ma[i])
			}
		}
		return joinArray(ma)
	}
	return mutated
}

// put sets an object or array value aside and returns its placeholder; a
// scalar is cheap to diff and stays.
func (a *additions) put(value []byte) []byte {
	if len(value) == 0 || (value[0] != '{' && value[0] != '[') {
		return value
	}
	if *a == nil {
		*a = additions{}
	}
	n := strconv.Itoa(len(*a))
	(*a)[placeholderPrefix+n] = value
	return []byte(`"\u0000added:` + n + `"`) // placeholderPrefix+n in JSON
}

// restoreAdditions puts the values set aside back into the ops that carry
// their placeholders.
func restoreAdditions(ops []jsonpatch.Operation, added additions) {
	if len(added) == 0 {
		return
	}
	for i := range ops {
		if key, ok := ops[i].Value.(string); ok {
			if value, ok := added[key]; ok {
				ops[i].Value = value
			}
		}
	}
}
