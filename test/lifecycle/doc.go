// Package lifecycle proves the product on a real node (test/cluster): the
// chart installed by the real helm, the webhook running as a pod from the
// locally built image, and annotated Sidekiq Deployments whose pods the real
// kubelet probes, drains with preStop, signals and restarts.
//
// The scenarios (lifecycle_test.go) and `make demo` (cmd/demo) share this
// code: an Env (cluster, Redis on the node, chart), a Worker Deployment, a
// job Stream, a pod Observer, and the Summary line each prints.
package lifecycle
