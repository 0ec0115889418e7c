// Package webhook turns an annotated Sidekiq pod into a safely probed,
// gracefully stopping one. The admission handler and the inject command run
// the same code.
//
// The pipeline, in order (and the file of each step):
//
//	shouldInject (mutate.go)   metadata only: annotated? mirror pod?  -> SkipReason
//	parseConfig  (config.go)   annotations -> typed Config             -> *InvalidError
//	checkPodSpec (podspec.go)  pods the sidecar cannot work in         -> *InvalidError
//	preStopToken (token.go)    the sidecar's token, else a new one     -> token
//	apply        (mutate.go)   the mutation, on a DeepCopy             -> warnings
//
// Mutate runs these steps on a pod template (metadata + pod spec), so it
// serves a Pod and a Deployment's template alike. It is idempotent: a
// template that already has the sidecar is completed, never given a second
// one, and Mutate of its own output changes nothing.
//
// Around it:
//
//   - annotations.go: every annotation key and the values it accepts.
//   - Options: the webhook-wide flags (sidecar image, native sidecar,
//     default max job seconds), checked by Options.Validate, and the source
//     of randomness for tokens.
//   - Handler: the admission.Handler for pod creation, and the
//     http.Handler that serves it (review.go: each review read once, with
//     encoding/json/v2, decode.go). It reports every request as a Decision
//     to its Observe func, which is where the server hangs logs and metrics.
//   - The bounds on each review ServeHTTP reads (Limits, limits.go): its
//     deadline (deadline.go), its body's size, and its share of a memory
//     budget (budget.go), charged by its size and shape (cost.go).
//   - MutateObject: Mutate for a whole JSON object of any kind (Pod,
//     Deployment, CronJob, ...), keeping every field it does not change;
//     used by the inject command.
//   - createPatch (patch.go): the JSON patch, diffed from the raw request
//     with the decoding noise removed; no hand-built patch paths.
//     pruneUnchanged (prune.go) first cuts what the mutation left alone,
//     so the diffs only decode the few places it touched, and
//     setAsideAdditions (additions.go) swaps each whole value the mutation
//     added (the sidecar, the probes) for a placeholder the diff need not
//     walk, put back into the patch as written. All of it holds only
//     because the mutation appends to lists (TestMutateObject_AppendsOnly).
package webhook
