package jsondiff_test

import (
	"testing"

	"sidekiq-probe.io/sidekiq-probe/webhook/internal/jsondiff"
)

// BenchmarkPatch takes Patch apart on the benchmark pod, in one run: the
// plain diff of the whole documents, after pruning, after setting
// additions aside too (what Patch does, without its two encodings), and
// the pruning alone. All give the same ops (FuzzPruneUnchanged,
// FuzzSetAsideAdditions).
func BenchmarkPatch(b *testing.B) {
	in, ok := mutationOf(b, benchPod(b), true)
	if !ok {
		b.Fatal("the benchmark pod was not injected")
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"whole", func() error {
			_, err := jsondiff.Diff(in.raw, in.original, in.mutated)
			return err
		}},
		{"pruned", func() error {
			_, err := jsondiff.Diff(jsondiff.PruneUnchanged(in.raw, in.original, in.mutated))
			return err
		}},
		{"pruned-set-aside", func() error {
			r, o, m := jsondiff.PruneUnchanged(in.raw, in.original, in.mutated)
			m, added := jsondiff.SetAsideAdditions(r, o, m)
			ops, err := jsondiff.Diff(r, o, m)
			jsondiff.RestoreAdditions(ops, added)
			return err
		}},
		{"prune-only", func() error {
			jsondiff.PruneUnchanged(in.raw, in.original, in.mutated)
			return nil
		}},
	}
	for _, step := range steps {
		b.Run(step.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := step.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
