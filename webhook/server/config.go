package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"sidekiq-probe.io/sidekiq-probe/certs"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// Config is everything `sidekiq-probe-webhook serve` is told on its command
// line. The Helm chart passes these flags; keep the names in step with it.
type Config struct {
	Port        int
	CertDir     string
	HealthAddr  string
	MetricsAddr string
	// Profiling serves Go's /debug/pprof/ next to /metrics. Off by default:
	// profiles show the process's internals to whoever reaches the port.
	Profiling bool
	LogLevel  slog.Level
	// ShutdownDelay is how long serve keeps admitting pods after SIGTERM,
	// unready, before it stops: the API server keeps calling a replica until
	// its endpoints drop it, which takes a few seconds after it turns unready.
	ShutdownDelay time.Duration

	Webhook webhook.Options
	// Limits bound the reviews in flight: body size, memory, deadline.
	// Zero is webhook.DefaultLimits.
	Limits webhook.Limits

	// Namespace is the webhook's own: its pods are never injected and its
	// certificate Secret lives there.
	Namespace string

	// ManageCerts makes the webhook run its own CA (package certs) instead
	// of only reading CertDir.
	ManageCerts   bool
	CertSecret    string
	WebhookConfig string
	ServiceName   string
	// Lifetimes of the self-managed certificates; zero is the certs
	// package's default, which suits production. Tests shorten them to
	// watch renewals and CA rotations.
	CALifetime      time.Duration
	CertLifetime    time.Duration
	RotationOverlap time.Duration
	CertResync      time.Duration
}

const (
	// DefaultShutdownDelay covers the few seconds endpoints take to drop an
	// unready pod.
	DefaultShutdownDelay = 5 * time.Second
	// MaxShutdownDelay keeps a stopping replica from lingering: the pod's
	// grace period must cover the delay plus the in-flight requests.
	MaxShutdownDelay = time.Minute
)

// ProcessMemory is what serve takes besides its reviews: 40 MiB RSS idle
// (23 of them the binary's pages, which Go's memory limit does not count)
// and the collector's headroom. A container's memory limit must cover it
// plus --review-memory.
const ProcessMemory = 40 << 20

// ParseFlags reads the serve flags from args. getenv supplies the default of
// --namespace (POD_NAMESPACE, set by the downward API). Help goes to out.
func ParseFlags(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&c.Port, "port", 9443, "HTTPS port of the admission webhook")
	fs.StringVar(&c.CertDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "folder with tls.crt and tls.key, reloaded when they change")
	fs.StringVar(&c.HealthAddr, "health-addr", ":8081", "address of /healthz and /readyz (plain HTTP)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":8080", "address of /metrics (plain HTTP)")
	fs.BoolVar(&c.Profiling, "pprof", false, "also serve Go's /debug/pprof/ on --metrics-addr (profiles show the process's internals: off by default)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", DefaultShutdownDelay, "after SIGTERM, how long to keep admitting pods while /readyz fails, before stopping (0 to "+MaxShutdownDelay.String()+"; 0 stops at once)")
	fs.StringVar(&c.Webhook.SidecarImage, "sidecar-image", "", "image of the injected probe sidecar (required)")
	fs.BoolVar(&c.Webhook.NativeSidecar, "native-sidecar", true, "inject the sidecar as a native sidecar (init container, restartPolicy Always)")
	fs.IntVar(&c.Webhook.DefaultMaxJobSeconds, "default-max-job-seconds", webhook.DefaultMaxJobSeconds, "max job seconds for pods without the annotation")
	c.Limits = webhook.DefaultLimits()
	fs.Var(byteSize{&c.Limits.MaxReviewBytes}, "max-review-size", "largest review body read, as a quantity (7Mi: the API server's 3 MiB body limit re-encoded, with room)")
	fs.Var(byteSize{&c.Limits.Memory}, "review-memory", "memory the reviews in flight may take together, as a quantity; a review waits for its share until its deadline (at least 6 times --max-review-size plus 32Ki)")
	fs.DurationVar(&c.Limits.MaxTimeout, "max-review-timeout", webhook.DefaultMaxTimeout, "longest time spent on a review, whatever its ?timeout= (1s to 1m)")
	fs.StringVar(&c.Namespace, "namespace", getenv("POD_NAMESPACE"), "the webhook's own namespace (default $POD_NAMESPACE)")
	fs.BoolVar(&c.ManageCerts, "manage-certs", false, "run a self-managed CA: keep --cert-secret, --cert-dir and the caBundle of --webhook-config in sync")
	fs.StringVar(&c.CertSecret, "cert-secret", "sidekiq-probe-webhook-certs", "Secret in --namespace holding the CA and serving certificate (with --manage-certs)")
	fs.StringVar(&c.WebhookConfig, "webhook-config", "sidekiq-probe", "MutatingWebhookConfiguration whose caBundle is kept in sync (with --manage-certs)")
	fs.StringVar(&c.ServiceName, "service-name", "sidekiq-probe-webhook", "Service in front of the webhook, for the certificate's DNS names (with --manage-certs)")
	fs.DurationVar(&c.CALifetime, "ca-lifetime", certs.DefaultCALifetime, "lifetime of the self-managed CA, renewed at two thirds (with --manage-certs)")
	fs.DurationVar(&c.CertLifetime, "cert-lifetime", certs.DefaultLeafLifetime, "lifetime of the self-managed serving certificate, renewed at two thirds (with --manage-certs)")
	fs.DurationVar(&c.RotationOverlap, "ca-rotation-overlap", certs.DefaultOverlap, "time each step of a CA rotation waits for all replicas and the API server (with --manage-certs)")
	fs.DurationVar(&c.CertResync, "cert-resync", certs.DefaultResync, "how often the certificates are checked besides on changes of the Secret (with --manage-certs)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	var errs []error
	level, ok := logLevels[*logLevel]
	if !ok {
		errs = append(errs, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", *logLevel))
	}
	c.LogLevel = level
	errs = append(errs, c.validate())
	return c, errors.Join(errs...)
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// validate reports every bad setting at once, each naming its flag.
func (c Config) validate() error {
	var errs []error
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("--port: %d is not a port (1-65535)", c.Port))
	}
	nonEmpty := map[string]string{"--cert-dir": c.CertDir, "--health-addr": c.HealthAddr, "--metrics-addr": c.MetricsAddr,
		"--namespace": c.Namespace}
	if c.ManageCerts {
		nonEmpty["--cert-secret"], nonEmpty["--webhook-config"], nonEmpty["--service-name"] = c.CertSecret, c.WebhookConfig, c.ServiceName
	}
	for _, name := range slices.Sorted(maps.Keys(nonEmpty)) {
		if strings.TrimSpace(nonEmpty[name]) == "" {
			hint := ""
			if name == "--namespace" {
				hint = " (set it or POD_NAMESPACE)"
			}
			errs = append(errs, fmt.Errorf("%s: must not be empty%s", name, hint))
		}
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > MaxShutdownDelay {
		errs = append(errs, fmt.Errorf("--shutdown-delay: %v is not accepted: 0s (stop at once) to %v", c.ShutdownDelay, MaxShutdownDelay))
	}
	if c.ManageCerts {
		errs = append(errs, c.validateLifetimes())
	}
	if err := c.Webhook.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.limits().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) limits() webhook.Limits {
	if c.Limits == (webhook.Limits{}) {
		return webhook.DefaultLimits()
	}
	return c.Limits
}

// byteSize is a flag holding a number of bytes written as a Kubernetes
// quantity: 7Mi, 48Mi, 7340032.
type byteSize struct{ bytes *int64 }

func (b byteSize) String() string {
	if b.bytes == nil {
		return ""
	}
	return resource.NewQuantity(*b.bytes, resource.BinarySI).String()
}

func (b byteSize) Set(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return fmt.Errorf("%q is not a positive quantity of bytes such as 7Mi", s)
	}
	*b.bytes = q.Value()
	return nil
}

// validateLifetimes keeps a CA rotation possible: its two overlap steps must
// end before the old CA, renewed at two thirds of its life, expires.
func (c Config) validateLifetimes() error {
	var errs []error
	for name, d := range map[string]*time.Duration{"--ca-lifetime": &c.CALifetime, "--cert-lifetime": &c.CertLifetime,
		"--ca-rotation-overlap": &c.RotationOverlap, "--cert-resync": &c.CertResync} {
		if *d < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is not a positive duration", name, *d))
		}
	}
	ca, cert, overlap := orDefault(c.CALifetime, certs.DefaultCALifetime),
		orDefault(c.CertLifetime, certs.DefaultLeafLifetime), orDefault(c.RotationOverlap, certs.DefaultOverlap)
	if cert > ca {
		errs = append(errs, fmt.Errorf("--cert-lifetime: %v is longer than --ca-lifetime %v", cert, ca))
	}
	if 6*overlap >= ca {
		errs = append(errs, fmt.Errorf("--ca-rotation-overlap: %v must be less than a sixth of --ca-lifetime %v", overlap, ca))
	}
	return errors.Join(errs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
