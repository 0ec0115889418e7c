// Package doctor is `sidekiq-probe-webhook doctor`: it reads a cluster with
// the user's kubeconfig and says, check by check, whether the webhook can
// inject pods and whether the pods that asked for injection got it. It is
// the answer to the injector's worst failure mode: with failurePolicy Ignore
// a pod created while the webhook was down runs without its sidecar, and
// nothing else says so.
//
// Each check family lives in its own file and returns Findings; a Finding
// is OK, WARN (worth a look, nothing broken yet) or FAIL (needs action). The
// command exits 1 when any Finding is FAIL, so scripts can gate on it.
package doctor
