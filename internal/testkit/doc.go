// Package testkit holds the small helpers every test package of this module
// needs: finding the checkout, building our binaries, free loopback ports,
// waiting for a condition, and collecting output safely across goroutines.
// It is for tests only; production code never imports it.
package testkit
