package e2e

import (
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// warningRecorder keeps the warnings the API server sends back: what kubectl
// would print as "Warning: ...".
type warningRecorder struct {
	mu    sync.Mutex
	texts []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, text)
}

// take returns the warnings seen since the last call.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	texts := w.texts
	w.texts = nil
	return texts
}

// warningClient is a client whose responses' warnings are recorded.
func warningClient(t *testing.T, base *rest.Config) (*warningRecorder, kubernetes.Interface) {
	t.Helper()
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(base)
	cfg.WarningHandler = rec
	client, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	return rec, client
}

// isPolicyWarning tells the chart's ValidatingAdmissionPolicy's message.
func isPolicyWarning(text string) bool {
	return strings.Contains(text, "was not injected by the sidekiq-probe webhook")
}
