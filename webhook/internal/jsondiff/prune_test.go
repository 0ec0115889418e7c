package jsondiff_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/webhook/internal/jsondiff"
)

// TestPruneUnchanged_LargeObjects covers objects past the size where a
// missed hint stops scanning and goes through an index: 200 annotations,
// raw listing them in reverse, mutated adding one in the middle and one
// removed. The pruned patch must equal the whole one, and the unchanged
// annotations must be cut.
func TestPruneUnchanged_LargeObjects(t *testing.T) {
	tests := map[string]struct{ reversed bool }{
		"raw in the same order as original": {},
		"raw in reverse order":              {reversed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			keys := make([]string, 200)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%03d", i)
			}
			object := func(keys []string, extra string) []byte {
				var b strings.Builder
				b.WriteString(`{"metadata":{"annotations":{`)
				for i, k := range keys {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, "%q:%q", k, "v")
					if extra != "" && k == "k100" {
						b.WriteString("," + extra)
					}
				}
				b.WriteString(`}}}`)
				return []byte(b.String())
			}
			rawKeys := slices.Clone(keys)
			if tc.reversed {
				slices.Reverse(rawKeys)
			}
			raw, original := object(rawKeys, ""), object(keys, "")
			mutated := object(slices.Delete(slices.Clone(keys), 5, 6), `"k100a":"added"`)

			want, err := jsondiff.Diff(raw, original, mutated)
			if err != nil {
				t.Fatal(err)
			}
			r, o, m := jsondiff.PruneUnchanged(raw, original, mutated)
			got, err := jsondiff.Diff(r, o, m)
			if err != nil {
				t.Fatal(err)
			}
			if w, g := decodedOps(t, want), decodedOps(t, got); !slices.Equal(w, g) || len(w) != 2 {
				t.Fatalf("pruning changed the patch or it is not one add and one remove:\nwhole:  %q\npruned: %q", w, g)
			}
			if len(m) > 100 {
				t.Errorf("the unchanged annotations were not cut: %d bytes left", len(m))
			}
		})
	}
}
