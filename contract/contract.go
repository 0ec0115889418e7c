// Package contract holds the names the webhook writes into a pod and the
// probe sidecar reads back: its container name, port, HTTP paths and the
// environment variables that carry its settings. It is the only code that
// webhook/ and probeserver/ share, so the two can never disagree on a name;
// a name only one side uses lives on that side (the sidecar's Redis settings
// and metrics path in probeserver, the port's name in webhook).
package contract

const (
	// ContainerName is the name of the injected sidecar container.
	ContainerName = "sidekiq-probe"

	// DefaultPort is the port the Sidekiq community settled on for health
	// checks (sidekiq_alive, Sidekiq Enterprise).
	DefaultPort = 7433
)

// HTTP paths served by the sidecar.
const (
	PathStartup = "/startupz"
	PathLive    = "/livez"
	PathReady   = "/readyz"
	PathPreStop = "/prestop"
)

// Environment variables the webhook sets on the sidecar. Each mirrors a flag of
// the sidecar binary; the flag wins when both are given.
const (
	EnvPort                    = "SIDEKIQ_PROBE_PORT"
	EnvMaxJobSeconds           = "SIDEKIQ_PROBE_MAX_JOB_SECONDS"
	EnvHeartbeatTimeoutSeconds = "SIDEKIQ_PROBE_HEARTBEAT_TIMEOUT_SECONDS"
	EnvQuietSignal             = "SIDEKIQ_PROBE_QUIET_SIGNAL"
	// EnvRedisURLEnv names the variable that holds the Redis URL, so the sidecar
	// reads the very variable the Sidekiq container reads.
	EnvRedisURLEnv = "SIDEKIQ_PROBE_REDIS_URL_ENV"
	// EnvPodName carries the pod name from the downward API; Sidekiq uses the
	// host name, which equals the pod name, in its process identity.
	EnvPodName = "POD_NAME"
	// EnvShutdownTimeoutSeconds is Sidekiq's own shutdown timeout (-t), so
	// the sidecar knows how long a real termination can keep Sidekiq quiet.
	EnvShutdownTimeoutSeconds = "SIDEKIQ_PROBE_SHUTDOWN_TIMEOUT_SECONDS"
	// EnvPreStopToken is the per-pod secret that /prestop requires in
	// HeaderPreStopToken. The webhook writes the same value into the preStop
	// hook's httpHeaders, which the kubelet sends.
	EnvPreStopToken = "SIDEKIQ_PROBE_PRESTOP_TOKEN"
)

// HeaderPreStopToken carries the preStop token on the kubelet's /prestop call.
const HeaderPreStopToken = "X-Sidekiq-Probe-Token"

// Defaults shared by the webhook's annotations and the sidecar's flags.
const (
	DefaultRedisURLEnv             = "REDIS_URL"
	DefaultHeartbeatTimeoutSeconds = 60
	DefaultQuietSignal             = "TSTP"
	// DefaultMaxJobSeconds is the longest job assumed when a pod says
	// nothing: the webhook's --default-max-job-seconds and the sidecar's
	// --max-job-seconds default alike.
	DefaultMaxJobSeconds = 60
	// GraceMarginSeconds is added to max-job-seconds and Sidekiq's shutdown
	// timeout: time for the preStop call, the SIGTERM delivery and Sidekiq
	// pushing unfinished jobs back. The webhook's grace period and the
	// sidecar's "quiet for too long" rule both use it.
	GraceMarginSeconds = 15
)
