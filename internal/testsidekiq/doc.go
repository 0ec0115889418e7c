// Package testsidekiq starts real redis-server and real Sidekiq processes for
// tests: Redis on a unix socket in a temporary directory, Sidekiq (Debian's
// ruby-sidekiq) running the app in test/sidekiqapp. Every process is stopped
// by t.Cleanup. A missing program fails the test with a hint to run
// `make deps`, which installs it.
package testsidekiq
