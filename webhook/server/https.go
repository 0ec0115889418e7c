package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// The webhook port is reachable from the pod network: every client is
// hostile until proven otherwise. controller-runtime's webhook.Server sets
// only a 32 s header timeout and a 90 s idle timeout and takes no others, so
// serve runs its own net/http server, with the same TLS and HTTP/2.
const (
	// readHeaderTimeout: the API server sends its headers at once.
	readHeaderTimeout = 10 * time.Second
	// idleTimeout is as long as the API server's transport keeps an idle
	// connection (Go's default, 90 s): closing sooner races its reuse.
	idleTimeout = 90 * time.Second
	// maxHeaderBytes: the API server's headers take well under 1 KiB (Go
	// allows 4 KiB more). The default is 1 MiB per connection.
	maxHeaderBytes = 16 << 10
	// HTTP/2: a review waiting for its share of the memory budget does not
	// read its body, and what its client sent meanwhile holds the
	// connection's flow-control window. With Go's defaults (1 MiB per
	// stream, 1 MiB per connection) the waiting reviews' data took the whole
	// window and the review holding the budget could not receive its own
	// body: none of 12 concurrent 6.5 MB reviews was answered (test/hostile).
	// With 64 KiB per stream and a connection window one stream larger than
	// all of its streams' together, a stream can always receive.
	maxStreams       = 32
	streamWindow     = 64 << 10
	connectionWindow = (maxStreams + 1) * streamWindow
	// writeMargin is how long after a review's longest deadline its answer
	// may still take to write, before the connection is dropped.
	writeMargin = 10 * time.Second
)

// webhookServer serves h at webhook.Path over TLS. Reading the request must end
// within the longest review deadline (the handler shortens it per review);
// writing the answer a little after.
func webhookServer(h http.Handler, certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error), limits webhook.Limits, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle(webhook.Path, h)
	return &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig(certificate),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       limits.MaxTimeout,
		WriteTimeout:      limits.MaxTimeout + writeMargin,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: maxStreams,
			MaxReceiveBufferPerStream: streamWindow, MaxReceiveBufferPerConnection: connectionWindow},
		// TLS handshake failures and the like, which net/http logs itself.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelInfo),
	}
}

// tlsConfig allows TLS 1.2 only with ECDHE key exchange (forward secrecy)
// and AEAD ciphers: Go's default list still holds the CBC-SHA1 suites for
// old clients, which the API server, a Go client, never needs. TLS 1.3's
// suites are all AEAD and not configurable.
func tlsConfig(certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: certificate,
	}
}

// serveTLS serves srv on ln until ctx ends, then shuts it down gracefully.
func serveTLS(ctx context.Context, ln net.Listener, srv *http.Server) error {
	return serveUntil(ctx, srv, func() error { return srv.ServeTLS(ln, "", "") })
}

// serveUntil runs serve until ctx ends; then in-flight requests get
// shutdownTimeout to finish.
func serveUntil(ctx context.Context, srv *http.Server, serve func() error) error {
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		done <- srv.Shutdown(shutdownCtx)
	}()
	if err := serve(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}

// dialChecker passes once a TLS handshake with addr succeeds, whatever the
// certificate (its validity is checked apart): the webhook answers.
func dialChecker(addr string) healthz.Checker {
	config := &tls.Config{InsecureSkipVerify: true}
	return func(*http.Request) error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, config)
		if err != nil {
			return fmt.Errorf("the webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}
