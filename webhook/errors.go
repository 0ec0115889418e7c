package webhook

import "fmt"

// InvalidError says why a pod cannot be injected. The webhook denies the pod
// with its Error() text and the inject command prints the same text.
type InvalidError struct {
	// Field is the annotation key or the pod field at fault.
	Field string
	// Value is the value given ("" when the field is unset).
	Value string
	// Accepted says what would be accepted instead.
	Accepted string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s: %q is not accepted: %s", e.Field, e.Value, e.Accepted)
}

// intRange is the closed range an integer annotation accepts.
type intRange struct{ min, max int }

func (r intRange) String() string { return fmt.Sprintf("%d..%d", r.min, r.max) }

var (
	maxJobRange           = intRange{1, 86400}
	shutdownTimeoutRange  = intRange{1, 3600}
	portRange             = intRange{1024, 65535}
	heartbeatTimeoutRange = intRange{10, 3600}
)
