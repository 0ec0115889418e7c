// Package server is `sidekiq-probe-webhook serve`: the admission handler of
// package webhook behind an HTTPS server with bounded reads (https.go), with health,
// metrics, logs and, optionally, self-managed certificates (package certs).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"

	"sidekiq-probe.io/sidekiq-probe/certs"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// Deps are what Run takes from outside besides its flags; zero values pick
// the production choice.
type Deps struct {
	Log *slog.Logger
	Now func() time.Time
	// KubeConfig reaches the API server for --manage-certs; default: the
	// in-cluster service account, or $KUBECONFIG.
	KubeConfig *rest.Config
	// WebhookHost is the interface the webhook listens on; default all.
	WebhookHost string
	// Ready, when set, receives the bound health and metrics addresses once
	// they listen (tests pass ":0" and need the ports).
	Ready func(healthAddr, metricsAddr net.Addr)
}

// shutdownTimeout bounds how long in-flight requests may finish after a
// stop signal.
const shutdownTimeout = 20 * time.Second

// Run serves until ctx ends; then it turns unready, keeps admitting pods for
// cfg.ShutdownDelay and shuts down gracefully.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Log
	handler, registry, err := newHandler(cfg, deps)
	if err != nil {
		return err
	}

	// Health and metrics come up first: /healthz must answer while the
	// certificate is still being obtained, or the kubelet would restart a
	// replica that is merely waiting for the API server.
	healthLn, metricsLn, err := listenSide(cfg)
	if err != nil {
		return err
	}
	if deps.Ready != nil {
		deps.Ready(healthLn.Addr(), metricsLn.Addr())
	}

	// ctx ending is the signal to shut down. The servers run under serving,
	// which ends --shutdown-delay later, or at once when a part fails.
	serving, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	g, gctx := errgroup.WithContext(serving)
	health := &health{now: deps.Now}
	g.Go(func() error { return serveHTTP(gctx, healthLn, health.handler()) })
	g.Go(func() error {
		return serveHTTP(gctx, metricsLn, metricsMux(registry, cfg.Profiling))
	})
	g.Go(func() error { return drainOnStop(ctx, gctx, health, cfg.ShutdownDelay, log, stop) })

	if cfg.ManageCerts {
		if served, err := awaitCertificate(ctx, gctx, g, cfg, deps, stop); !served {
			return err
		}
	}
	if err := serveWebhook(gctx, g, cfg, deps, health, registry, handler); err != nil {
		stop()
		return errors.Join(err, g.Wait())
	}

	log.Info("serving", "port", cfg.Port, "path", webhook.Path, "healthAddr", healthLn.Addr().String(),
		"metricsAddr", metricsLn.Addr().String(), "manageCerts", cfg.ManageCerts)
	err = g.Wait()
	log.Info("stopped")
	return err
}

// newHandler is the admission handler, timed and observed into a new
// registry that also holds the Go and process collectors.
func newHandler(cfg Config, deps Deps) (http.Handler, *prometheus.Registry, error) {
	handler, err := webhook.NewHandler(cfg.Webhook, cfg.Namespace)
	if err != nil {
		return nil, nil, err
	}
	if err := handler.SetLimits(cfg.limits()); err != nil {
		return nil, nil, err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	obs := newObserver(registry, deps.Log, deps.Now)
	handler.Observe = obs.Observe
	return obs.timed(handler), registry, nil
}

// listenSide opens the health and metrics listeners.
func listenSide(cfg Config) (healthLn, metricsLn net.Listener, err error) {
	healthLn, err = net.Listen("tcp", cfg.HealthAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("--health-addr: %w", err)
	}
	metricsLn, err = net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		healthLn.Close()
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	return healthLn, metricsLn, nil
}

// drainOnStop waits for ctx to end (the stop signal), then turns unready
// and calls stop once delay has passed, or at once when a part failed.
func drainOnStop(ctx, gctx context.Context, health *health, delay time.Duration, log *slog.Logger, stop func()) error {
	select {
	case <-ctx.Done():
	case <-gctx.Done():
		health.stopping.Store(true)
		return nil
	}
	// Unready at once, so the endpoints drop this replica, but still
	// admitting until they have: the API server picks a replica from its
	// endpoints, and a closed port there means an uninjected pod (policy
	// Ignore) or a failed one (Fail).
	health.stopping.Store(true)
	log.Info("shutting down: unready, still admitting pods for --shutdown-delay", "shutdownDelay", delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		log.Info("shutdown delay over: stopping the servers")
	case <-gctx.Done():
	}
	stop()
	return nil
}

// awaitCertificate runs the certificate manager (--manage-certs) in g and
// waits for its first certificate. When it returns false, Run is over and
// returns its error.
func awaitCertificate(ctx, gctx context.Context, g *errgroup.Group, cfg Config, deps Deps, stop func()) (served bool, err error) {
	manager, err := certManager(cfg, deps)
	if err != nil {
		stop()
		return false, errors.Join(err, g.Wait())
	}
	g.Go(func() error { return manager.Run(gctx) })
	deps.Log.Info("waiting for the self-managed serving certificate", "secret", cfg.CertSecret, "certDir", cfg.CertDir)
	select {
	case <-manager.Served():
		return true, nil
	case <-gctx.Done(): // a part failed
		return false, g.Wait()
	case <-ctx.Done():
		// Never ready, so no API server calls it: no delay.
		stop()
		return false, g.Wait()
	}
}

// serveWebhook starts, in g, the certificate watcher and the HTTPS server
// of the admission handler.
func serveWebhook(gctx context.Context, g *errgroup.Group, cfg Config, deps Deps, health *health, registry *prometheus.Registry, handler http.Handler) error {
	// The server reads its certificate only through this watcher, whether
	// the files come from package certs or from cert-manager's Secret.
	watcher, err := certwatcher.New(filepath.Join(cfg.CertDir, certs.CertFile), filepath.Join(cfg.CertDir, certs.KeyFile))
	if err != nil {
		return fmt.Errorf("--cert-dir: %w", err)
	}
	health.watcher.Store(watcher)
	registry.MustRegister(certificateExpiry(health.certificate))
	g.Go(func() error { return watcher.Start(gctx) })

	webhookLn, err := net.Listen("tcp", net.JoinHostPort(deps.WebhookHost, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("--port: %w", err)
	}
	started := dialChecker(webhookLn.Addr().String())
	health.started.Store(&started)
	server := webhookServer(handler, watcher.GetCertificate, cfg.limits(), deps.Log)
	g.Go(func() error { return serveTLS(gctx, webhookLn, server) })
	return nil
}

// metricsMux serves /metrics, and with profiling Go's /debug/pprof/.
// (Importing net/http/pprof also registers it on http.DefaultServeMux,
// which nothing here serves.)
func metricsMux(registry *prometheus.Registry, profiling bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// serveHTTP serves plain HTTP on ln until ctx ends.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
	return serveUntil(ctx, srv, func() error { return srv.Serve(ln) })
}

func certManager(cfg Config, deps Deps) (*certs.Manager, error) {
	kubeConfig := deps.KubeConfig
	if kubeConfig == nil {
		var err error
		kubeConfig, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("--manage-certs needs the API server: %w", err)
		}
	}
	client, err := kubernetes.NewForConfig(kubeConfig)
	if err != nil {
		return nil, err
	}
	return certs.New(certs.Config{
		Client: client, Namespace: cfg.Namespace, SecretName: cfg.CertSecret,
		WebhookConfigName: cfg.WebhookConfig, ServiceName: cfg.ServiceName, CertDir: cfg.CertDir,
		CALifetime: cfg.CALifetime, LeafLifetime: cfg.CertLifetime, Overlap: cfg.RotationOverlap, Resync: cfg.CertResync,
		Now: deps.Now, Log: deps.Log.With("component", "certs"),
	})
}

// certificateExpiry exports when the served certificate expires, so an alert
// can fire long before it silently does.
func certificateExpiry(current func() *tls.Certificate) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sidekiq_probe_webhook_certificate_expiry_timestamp_seconds",
		Help: "NotAfter of the serving certificate, as a Unix time; 0 before one is loaded.",
	}, func() float64 {
		if c := current(); c != nil && c.Leaf != nil {
			return float64(c.Leaf.NotAfter.Unix())
		}
		return 0
	})
}
