package server

import (
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
)

// health serves /healthz (the process answers) and /readyz (it can admit
// pods: the webhook answers TLS handshakes with a certificate valid now, and
// it is not stopping).
type health struct {
	now      func() time.Time
	watcher  atomic.Pointer[certwatcher.CertWatcher] // set once the cert dir is read
	started  atomic.Pointer[healthz.Checker]         // dials the webhook port
	stopping atomic.Bool
}

// certificate is the one being served, or nil before there is one.
func (h *health) certificate() *tls.Certificate {
	w := h.watcher.Load()
	if w == nil {
		return nil
	}
	cert, _ := w.GetCertificate(nil)
	return cert
}

func (h *health) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := h.notReady(r); reason != "" {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}

// notReady says why the webhook is not ready, or "".
func (h *health) notReady(r *http.Request) string {
	if h.stopping.Load() {
		return "shutting down"
	}
	if started := h.started.Load(); started == nil || (*started)(r) != nil {
		return "the webhook server does not answer yet"
	}
	cert := h.certificate()
	if cert == nil || cert.Leaf == nil {
		return "no serving certificate yet"
	}
	now := h.now()
	if now.Before(cert.Leaf.NotBefore) || !now.Before(cert.Leaf.NotAfter) {
		return "the serving certificate is not valid now (valid " +
			cert.Leaf.NotBefore.Format(time.RFC3339) + " to " + cert.Leaf.NotAfter.Format(time.RFC3339) + ")"
	}
	return ""
}
