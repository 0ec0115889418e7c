// Package jsondiff makes the JSON patch of a mutation: Patch, from the
// object as it was sent, the same object decoded into its Go type, and the
// mutated copy, to the operations the API server applies. The paths come
// from gomodules.xyz/jsonpatch; nothing here builds one by hand.
//
// Patch is the plain diff (raw to mutated, minus raw to original, see
// Patch) with two shortcuts that do not change its result: FuzzPatch,
// FuzzPruneUnchanged and FuzzSetAsideAdditions hold each to the plain diff.
// What each buys on the benchmark pod, measured through the webhook's
// whole admission (BenchmarkAdmission, CPU time over the no-op handler's
// in the same run, docs/performance.md):
//
//   - pruneUnchanged (prune.go, on split.go's byte scanner) cuts what the
//     mutation left alone before the diffs decode the documents into maps:
//     2.58x the no-op without it, 1.23x with it.
//   - setAsideAdditions (additions.go) hands the diff a placeholder for
//     each whole value the mutation added (the sidecar, the probes) and
//     puts the value back as written: 1.34x without it, 1.23x with it,
//     and 412 fewer allocations an admission.
package jsondiff
