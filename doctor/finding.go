package doctor

// Status is how bad a Finding is.
type Status string

const (
	OK Status = "OK"
	// Warn: worth a look, but nothing is broken yet (a restart in the past,
	// a replica short). It does not change the exit status.
	Warn Status = "WARN"
	// Fail: something needs action; the command exits 1.
	Fail Status = "FAIL"
)

// Names of the checks, stable for scripts reading `-o json` and for the
// Troubleshooting page.
const (
	CheckDeployment       = "webhook-deployment"
	CheckWebhookConfig    = "webhook-configuration"
	CheckCertificate      = "serving-certificate"
	CheckCABundle         = "ca-bundle"
	CheckNamespaces       = "injection-namespaces"
	CheckPodInjected      = "pod-injected"
	CheckSidecarReady     = "sidecar-ready"
	CheckLivenessRestarts = "liveness-restarts"
	CheckGracePeriod      = "grace-period"
	CheckSidekiq          = "sidekiq"
	// Policy mode.
	CheckMutatingPolicy   = "mutating-policy"
	CheckValidatingPolicy = "validating-policy"
)

// Finding is one line of the report.
type Finding struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Object is what the finding is about, as kind/namespace/name.
	Object string `json:"object,omitempty"`
	Detail string `json:"detail"`
	// Hint says what to do; empty when all is well.
	Hint string `json:"hint,omitempty"`
}

// NeedsAction reports whether any finding failed.
func NeedsAction(findings []Finding) bool {
	for _, f := range findings {
		if f.Status == Fail {
			return true
		}
	}
	return false
}
