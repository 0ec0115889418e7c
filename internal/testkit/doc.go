// Package testkit holds the small helpers every test package of this module
// needs: finding the checkout, building our binaries, running helm, free
// loopback ports, waiting for a condition, collecting output safely across
// goroutines, the one Sidekiq pod builder (SidekiqPod) and sidecar lookup
// (HasSidecar), and the API server's warnings. Each exists once: a test
// package that needs a variant adds an option here rather than a copy. It
// is for tests only; production code never imports it, and it must not
// import package webhook, whose own tests import it.
package testkit
