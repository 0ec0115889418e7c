package doctor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Main runs the doctor command and returns its exit status: 0 when nothing
// failed, 1 when something needs action, 2 for a usage error. now is the
// clock the certificate's expiry is measured against.
func Main(args []string, stdout, stderr io.Writer, now func() time.Time) int {
	cfg, err := ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sidekiq-probe-webhook doctor: %v\n", err)
		return 2
	}
	client, namespace, err := connect(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sidekiq-probe-webhook doctor: %v\n", err)
		return 2
	}
	cfg.Namespace = namespace

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	findings := Run(ctx, client, cfg, now())

	if cfg.Output == "json" {
		err = WriteJSON(stdout, findings)
	} else {
		err = WriteTable(stdout, findings)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sidekiq-probe-webhook doctor: %v\n", err)
		return 1
	}
	if NeedsAction(findings) {
		return 1
	}
	return 0
}

// connect builds a client the way kubectl does: --kubeconfig, else
// $KUBECONFIG, else ~/.kube/config (or the in-cluster config). It returns the
// namespace whose pods to check: --namespace, else the context's, or "" for
// --all-namespaces.
func connect(cfg Config) (kubernetes.Interface, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = cfg.Kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: cfg.Context})
	restConfig, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, "", err
	}
	namespace := cfg.Namespace
	switch {
	case cfg.AllNamespaces:
		namespace = ""
	case namespace == "":
		if namespace, _, err = loader.Namespace(); err != nil {
			return nil, "", fmt.Errorf("kubeconfig: %w", err)
		}
	}
	return client, namespace, nil
}

// Run reads the cluster once and runs every check on what it read. An object
// that cannot be read becomes a FAIL of the checks that need it, so one
// missing permission never hides the other checks.
func Run(ctx context.Context, client kubernetes.Interface, cfg Config, now time.Time) []Finding {
	c := read(ctx, client, cfg, now)
	injector := []func(*cluster) []Finding{checkDeployment, checkWebhookConfig, checkCertificate, checkCABundle}
	if c.policies != nil {
		injector = []func(*cluster) []Finding{checkMutatingPolicy, checkValidatingPolicies}
	}
	var findings []Finding
	for _, check := range append(injector,
		checkNamespaces,
		checkPodsInjected,
		checkSidecars,
		checkRestarts,
		checkGracePeriods,
		checkSidekiqs,
	) {
		findings = append(findings, check(c)...)
	}
	return findings
}
