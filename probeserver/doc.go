// Package probeserver is the probe sidecar that runs next to Sidekiq in a pod.
//
// It judges Sidekiq by the heartbeat Sidekiq itself writes to Redis every few
// seconds (a hash named after the process identity, "hostname:pid:nonce"),
// joins those hashes to the Sidekiq processes it sees in the pod's shared PID
// namespace, and answers the kubelet's startup, liveness and readiness probes
// and the preStop call that quiets Sidekiq and waits for its running jobs.
//
// The files follow the flow of a probe: config.go (settings), observe.go (one
// look at /proc and one pipelined Redis round trip, giving a Snapshot),
// scan.go (finding a new process's identity, and which Redis errors are
// answers), heartbeat.go (reading Sidekiq's hash, whatever its version),
// embedded.go (a Sidekiq inside another server: found, never managed),
// rules.go (the pure decisions), drain.go (preStop), quieting.go (who gets
// the quiet signal, when, and when a process counts as drained),
// redisquiet.go (the signal through Redis and its acknowledgement), token.go
// (who may call preStop), server.go (HTTP and shutdown), listener.go (what
// connections may cost), metrics.go and jobage.go (the oldest running job's
// age, read on scrapes only).
package probeserver
