// Command noopwebhook is the load benchmarks' baseline server: the cheapest
// controller-runtime webhook, on controller-runtime's webhook.Server (TLS
// from --cert-dir, HTTP/2: net/http, as `serve`, which runs its own server
// to bound reads, webhook/server/https.go). Its
// handler decodes the pod and allows it. GC runs at 200% growth, as serve
// sets it, so that the two differ only in what their handlers do.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

func main() {
	port := flag.Int("port", 0, "TLS port of the webhook")
	certDir := flag.String("cert-dir", "", "folder of tls.crt and tls.key")
	healthAddr := flag.String("health-addr", "", "address of /readyz (plain HTTP)")
	flag.Parse()
	if err := run(*port, *certDir, *healthAddr); err != nil {
		fmt.Fprintln(os.Stderr, "noopwebhook:", err)
		os.Exit(1)
	}
}

func run(port int, certDir, healthAddr string) error {
	debug.SetGCPercent(200)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	noop, err := testkit.NoopPodHandler()
	if err != nil {
		return err
	}
	server := crwebhook.NewServer(crwebhook.Options{
		Host: "127.0.0.1", Port: port, CertDir: certDir,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 }},
	})
	server.Register("/mutate-v1-pod", &admission.Webhook{Handler: noop})

	started := server.StartedChecker()
	health := &http.Server{Addr: healthAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := started(r); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})}
	go func() { _ = health.ListenAndServe() }()
	defer health.Close()
	return server.Start(ctx)
}
