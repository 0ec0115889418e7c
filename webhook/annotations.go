package webhook

// Annotation keys read from a pod's (or pod template's) metadata. Every key
// shares the prefix "sidekiq-probe.io/". A value outside what a key accepts
// denies the pod with an *InvalidError naming the key, the value and what is
// accepted.
const (
	// AnnotationInject opts a pod in: "true" injects, "false" opts out
	// explicitly. Nothing is done unless it is "true"; any other value is denied.
	AnnotationInject = "sidekiq-probe.io/inject"

	// AnnotationContainer names the Sidekiq container, one of the pod's
	// containers. Default: the only container; else the first whose
	// command+args contain the word "sidekiq" (also "bundle exec sidekiq" and
	// inside a "sh -c" / "bash -c" script); else the pod is denied.
	AnnotationContainer = "sidekiq-probe.io/container"

	// AnnotationMaxJobSeconds is the longest a job may run, an integer
	// 1..86400. The preStop hook waits this long for running jobs. Default: the
	// webhook's --default-max-job-seconds, with a warning that it was not set.
	AnnotationMaxJobSeconds = "sidekiq-probe.io/max-job-seconds"

	// AnnotationShutdownTimeoutSeconds is Sidekiq's own shutdown timeout, an
	// integer 1..3600. Default: the "-t N", "--timeout N" or "--timeout=N"
	// found in the container's command+args; else 25, Sidekiq's default.
	AnnotationShutdownTimeoutSeconds = "sidekiq-probe.io/shutdown-timeout-seconds"

	// AnnotationPort is the sidecar's port, an integer 1024..65535 that no
	// other container of the pod declares. Default: 7433.
	AnnotationPort = "sidekiq-probe.io/port"

	// AnnotationQuietSignal is the signal that makes Sidekiq stop fetching
	// jobs: "TSTP", or "USR1" for Sidekiq < 5. Default: "TSTP".
	AnnotationQuietSignal = "sidekiq-probe.io/quiet-signal"

	// AnnotationRedisURLEnv names the environment variable that holds the
	// Redis URL on the Sidekiq container (a C identifier). Default: "REDIS_URL".
	AnnotationRedisURLEnv = "sidekiq-probe.io/redis-url-env"

	// AnnotationHeartbeatTimeoutSeconds is how old Sidekiq's heartbeat may get
	// before the liveness probe fails, an integer 10..3600. Default: 60.
	// The sidecar judges Sidekiq 6.5, 7 and 8, which beat every 10 s, by at
	// least 20 (probeserver's Rules.timeoutFor).
	AnnotationHeartbeatTimeoutSeconds = "sidekiq-probe.io/heartbeat-timeout-seconds"

	// AnnotationStatus is written by the mutation: its value is
	// StatusInjected once the pod has been injected. It is read only to
	// allow a container named sidekiq-probe (the sidecar's name); nothing
	// is skipped for it: an injected pod is completed all the same.
	AnnotationStatus = "sidekiq-probe.io/status"
)

// StatusInjected is the value of AnnotationStatus on an injected pod.
const StatusInjected = "injected"

// Namespace selection: the webhook only sees pods of namespaces labelled
// NamespaceLabel=NamespaceLabelEnabled (the chart's namespaceSelector).
const (
	NamespaceLabel        = "sidekiq-probe.io/injection"
	NamespaceLabelEnabled = "enabled"
)

// mirrorPodAnnotation marks a static pod's mirror in the API; the kubelet
// ignores changes made to it, so it is never injected.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"
