package jsondiff

import "bytes"

// pruneUnchanged cuts from the three documents what the mutation left
// alone, so that the two diffs of Patch, which decode whole documents
// into maps, only see the few places the mutation touched (a pod's
// managedFields, labels, volumes and most of its containers never reach
// them). On a 6 KB pod this is most of the cost of an admission.
//
// It is exact, not a heuristic: the diff of two objects is the union of the
// diffs of their members, and of two arrays the union of the diffs of the
// elements both have, each under its own path, plus whole-element adds or
// removes past the shorter one. Where original and mutated are the same
// bytes, the raw-to-mutated and raw-to-original diffs hold the same ops,
// which withoutNoise would drop anyway: such a member is deleted from all
// three documents, such an array element (at an index all three have) is
// replaced by null in all three (nulls diff to nothing, and the indexes
// stay). A member raw has and neither original nor mutated has is a
// "remove" in both diffs: deleted too. Anything else is kept whole. Equal
// bytes imply equal values; unequal bytes only cost a missed cut.
//
// The documents are split with a plain byte scanner rather than decoded:
// decoding them level by level cost more than the diffs it saved. Input the
// scanner does not understand is returned as it is, for the diff to judge.
// Where raw and original are the same bytes (the API server encodes a pod
// with the same Go types, so below the top level they nearly always are),
// one split serves both.
func pruneUnchanged(raw, original, mutated []byte) (r, o, m []byte) {
	same := bytes.Equal(raw, original)
	if om, ok := splitObject(original); ok {
		rm, okR := om, true
		if !same {
			rm, okR = splitObject(raw)
		}
		if mm, okM := splitObject(mutated); okR && okM {
			return pruneObjects(rm, om, mm, same)
		}
	}
	if oa, ok := splitArray(original); ok {
		ra, okR := oa, true
		if !same {
			ra, okR = splitArray(raw)
		}
		if ma, okM := splitArray(mutated); okR && okM {
			return pruneArrays(ra, oa, ma, same)
		}
	}
	return raw, original, mutated
}

// pruneObjects cuts members; when same, rm and om are one split of raw and
// original, which are the same bytes.
func pruneObjects(rm, om, mm members, same bool) (r, o, m []byte) {
	findR, findM := rm.finder(), mm.finder()
	for i := range om {
		k := om[i].name
		mi := findM(k, i)
		switch ri := findR(k, i); {
		case mi < 0:
		case bytes.Equal(om[i].value, mm[mi].value):
			om[i].value, mm[mi].value = nil, nil
			if ri >= 0 {
				rm[ri].value = nil
			}
		case ri >= 0:
			rm[ri].value, om[i].value, mm[mi].value = pruneUnchanged(rm[ri].value, om[i].value, mm[mi].value)
		}
	}
	if same {
		o = om.join()
		return o, o, mm.join()
	}
	findO := om.finder()
	for i := range rm {
		if rm[i].value != nil && findO(rm[i].name, i) < 0 && findM(rm[i].name, i) < 0 {
			rm[i].value = nil
		}
	}
	return rm.join(), om.join(), mm.join()
}

// pruneArrays cuts the elements at the indexes all three arrays have; the
// diffs add or remove the others whole.
func pruneArrays(ra, oa, ma [][]byte, same bool) (r, o, m []byte) {
	null := []byte("null")
	for i := range min(len(ra), len(oa), len(ma)) {
		if bytes.Equal(oa[i], ma[i]) {
			ra[i], oa[i], ma[i] = null, null, null
		} else {
			ra[i], oa[i], ma[i] = pruneUnchanged(ra[i], oa[i], ma[i])
		}
	}
	if same {
		o = joinArray(oa)
		return o, o, joinArray(ma)
	}
	return joinArray(ra), joinArray(oa), joinArray(ma)
}
