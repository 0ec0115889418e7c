package doctor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// Config is the doctor's command line. The object names default to what the
// Helm chart creates when the release is named sidekiq-probe (the documented
// install); another release name changes them all.
type Config struct {
	Kubeconfig string
	Context    string
	// Namespace scopes the pod checks; empty means the kubeconfig's.
	Namespace     string
	AllNamespaces bool
	Output        string
	Timeout       time.Duration

	// Mode is the chart's mode: webhook, policy, or auto (policy when the
	// MutatingAdmissionPolicy named WebhookConfig exists).
	Mode             string
	WebhookNamespace string
	Deployment       string
	Service          string
	CertSecret       string
	WebhookConfig    string

	// DefaultMaxJobSeconds must match the webhook's flag of the same name:
	// it is what a pod without the annotation was given.
	DefaultMaxJobSeconds int
	// CertMinValidity: a serving certificate closer than this to its end
	// fails. Renewal happens at two thirds of its life, so a certificate
	// this close to expiry means renewal is not happening.
	CertMinValidity time.Duration

	// ReadSidecar reads an injected pod's sidecar /metrics; nil reads it
	// through the API server's pod proxy. Not a flag: tests set it.
	ReadSidecar func(ctx context.Context, pod *corev1.Pod, port int32) ([]byte, error)
}

// ParseFlags reads the doctor's flags. Both -flag and --flag work, as with
// every Go flag set; -n and -A are kubectl's short forms.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&c.Context, "context", "", "kubeconfig context (default the current one)")
	for _, name := range []string{"namespace", "n"} {
		fs.StringVar(&c.Namespace, name, "", "namespace whose pods are checked (default the context's)")
	}
	for _, name := range []string{"all-namespaces", "A"} {
		fs.BoolVar(&c.AllNamespaces, name, false, "check the pods of every namespace")
	}
	for _, name := range []string{"output", "o"} {
		fs.StringVar(&c.Output, name, "table", "table or json")
	}
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "time allowed for all API calls")
	fs.StringVar(&c.Mode, "mode", "auto", "the chart's mode: webhook, policy, or auto (policy when the MutatingAdmissionPolicy --webhook-config exists)")
	fs.StringVar(&c.WebhookNamespace, "webhook-namespace", "sidekiq-probe", "namespace the chart was installed in")
	fs.StringVar(&c.Deployment, "deployment", "sidekiq-probe-webhook", "the webhook's Deployment")
	fs.StringVar(&c.Service, "service", "sidekiq-probe-webhook", "the webhook's Service")
	fs.StringVar(&c.CertSecret, "cert-secret", "sidekiq-probe-webhook-certs", "Secret with the serving certificate (sidekiq-probe-webhook-tls with cert-manager)")
	fs.StringVar(&c.WebhookConfig, "webhook-config", "sidekiq-probe", "the MutatingWebhookConfiguration (in policy mode: the MutatingAdmissionPolicy and its binding; the validating policies add -injected, -denials, -warnings)")
	fs.IntVar(&c.DefaultMaxJobSeconds, "default-max-job-seconds", webhook.DefaultMaxJobSeconds, "the webhook's --default-max-job-seconds")
	fs.DurationVar(&c.CertMinValidity, "cert-min-validity", 14*24*time.Hour, "fail when the serving certificate expires sooner than this")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("doctor takes no arguments, got %q", fs.Args())
	}
	var errs []error
	if c.AllNamespaces && c.Namespace != "" {
		errs = append(errs, errors.New("--namespace and --all-namespaces exclude each other"))
	}
	if c.Output != "table" && c.Output != "json" {
		errs = append(errs, fmt.Errorf("--output: %q is not table or json", c.Output))
	}
	if c.Mode != "auto" && c.Mode != "webhook" && c.Mode != "policy" {
		errs = append(errs, fmt.Errorf("--mode: %q is not auto, webhook or policy", c.Mode))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout: must be positive"))
	}
	return c, errors.Join(errs...)
}
