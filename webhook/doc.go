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
//   - Handler: the admission.Handler for pod creation (handler.go), and the
//     http.Handler that serves it (review.go: each review read once, with
//     encoding/json/v2). It reports every request as a Decision to its
//     Observe func, which is where the server hangs logs and metrics.
//   - The bounds on each review ServeHTTP reads (Limits, limits.go): its
//     deadline (deadline.go), its body's size, and its share of a memory
//     budget (budget.go), charged by its size and shape (cost.go).
//   - MutateObject: Mutate for a whole JSON object of any kind (Pod,
//     Deployment, CronJob, ...), keeping every field it does not change;
//     used by the inject command.
//
// How patches are made is not this package's business: jsondiff.Patch
// (internal/jsondiff) takes the request's raw object, the pod as decoded
// and the pod as mutated, and returns the operations. It holds only
// because the mutation appends to lists (TestMutateObject_AppendsOnly).
//
// A request's way, from the route to the answer, is four files: server's
// https.go serves Handler at Path; review.go's ServeHTTP reads the
// review; handler.go's decide decodes the pod, calls Mutate (mutate.go)
// and then jsondiff.Patch; review.go writes the answer. The bounds and
// the mutation's steps are each one call on that way.
package webhook
