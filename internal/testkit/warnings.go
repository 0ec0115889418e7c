package testkit

import (
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// WarningRecorder keeps the warnings the API server sends back, what kubectl
// prints as "Warning: ...".
type WarningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (r *WarningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, text)
}

// Take returns the warnings recorded since the last call.
func (r *WarningRecorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	taken := r.warnings
	r.warnings = nil
	return taken
}

// WarningClient is a client for base whose responses' warnings are recorded.
func WarningClient(t testing.TB, base *rest.Config) (*WarningRecorder, kubernetes.Interface) {
	t.Helper()
	rec := &WarningRecorder{}
	cfg := rest.CopyConfig(base)
	cfg.WarningHandler = rec
	client, err := kubernetes.NewForConfig(cfg)
	Must(t, err)
	return rec, client
}

// WarningLines is the format of the golden .warnings files: one warning a
// line, and nothing for none.
func WarningLines(warnings []string) string {
	if len(warnings) == 0 {
		return ""
	}
	return strings.Join(warnings, "\n") + "\n"
}
