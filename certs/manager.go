package certs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Config configures a Manager. Zero durations, clock, random source and
// logger take the defaults below.
type Config struct {
	Client kubernetes.Interface
	// Namespace holds the Secret and the Service.
	Namespace string
	// SecretName is the Secret shared by all replicas.
	SecretName string
	// WebhookConfigName is the MutatingWebhookConfiguration whose caBundle
	// is kept in sync.
	WebhookConfigName string
	// ServiceName gives the serving certificate's DNS names.
	ServiceName string
	// CertDir receives tls.crt and tls.key for the webhook server.
	CertDir string

	CALifetime   time.Duration // default DefaultCALifetime
	LeafLifetime time.Duration // default DefaultLeafLifetime
	Overlap      time.Duration // default DefaultOverlap; see doc.go
	Resync       time.Duration // default DefaultResync

	Now    func() time.Time
	Random io.Reader
	Log    *slog.Logger
}

// Defaults of Config.
const (
	DefaultCALifetime   = 10 * 365 * 24 * time.Hour
	DefaultLeafLifetime = 365 * 24 * time.Hour
	DefaultOverlap      = 10 * time.Minute
	DefaultResync       = time.Minute
)

// Manager keeps the Secret, the caBundle and the serving directory in step.
// Safe for concurrent use.
type Manager struct {
	cfg  Config
	plan plan

	mu       sync.Mutex // serialises passes
	served   chan struct{}
	markOnce sync.Once
}

// New checks cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	required := map[string]string{
		"namespace": cfg.Namespace, "secret name": cfg.SecretName,
		"webhook configuration name": cfg.WebhookConfigName,
		"service name":               cfg.ServiceName, "cert dir": cfg.CertDir,
	}
	for field, v := range required {
		if v == "" {
			return nil, fmt.Errorf("certs: %s must not be empty", field)
		}
	}
	if cfg.Client == nil {
		return nil, errors.New("certs: a Kubernetes client is required")
	}
	setDefault(&cfg.CALifetime, DefaultCALifetime)
	setDefault(&cfg.LeafLifetime, DefaultLeafLifetime)
	setDefault(&cfg.Overlap, DefaultOverlap)
	setDefault(&cfg.Resync, DefaultResync)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Manager{
		cfg: cfg,
		plan: plan{
			caLifetime:   cfg.CALifetime,
			leafLifetime: cfg.LeafLifetime,
			overlap:      cfg.Overlap,
			dnsNames:     DNSNames(cfg.ServiceName, cfg.Namespace),
			random:       cfg.Random,
		},
		served: make(chan struct{}),
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// DNSNames are the names a Service is reached by from the API server.
func DNSNames(service, namespace string) []string {
	return []string{
		service,
		service + "." + namespace,
		service + "." + namespace + ".svc",
		service + "." + namespace + ".svc.cluster.local",
	}
}

// Served is closed once a pass has written a serving certificate into the
// cert dir, so the webhook server can start.
func (m *Manager) Served() <-chan struct{} { return m.served }

// Reconcile runs one pass: bring the Secret up to date, trust its CAs in the
// webhook configuration, and write the serving certificate.
func (m *Manager) Reconcile(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	b, err := m.syncSecret(ctx)
	if err != nil {
		return err
	}
	if err := m.syncCABundle(ctx, b.caBundle()); err != nil {
		return err
	}
	if err := writeServingFiles(m.cfg.CertDir, b.leaf.certPEM, b.leaf.keyPEM); err != nil {
		return err
	}
	m.markOnce.Do(func() { close(m.served) })
	return nil
}

// syncSecret reads the Secret, applies the plan and stores the result with
// the resourceVersion it read; on a conflict it starts over from what the
// other writer stored.
func (m *Manager) syncSecret(ctx context.Context) (bundle, error) {
	secrets := m.cfg.Client.CoreV1().Secrets(m.cfg.Namespace)
	var stored bundle
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		secret, err := secrets.Get(ctx, m.cfg.SecretName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: m.cfg.SecretName, Namespace: m.cfg.Namespace}}
		} else if err != nil {
			return fmt.Errorf("read secret %s/%s: %w", m.cfg.Namespace, m.cfg.SecretName, err)
		}
		current := bundleFromData(secret.Data)
		if current.ca != nil {
			// Trust what is stored before changing it: a new leaf is only
			// issued once the API server already trusts the CA it comes from.
			if err := m.syncCABundle(ctx, current.caBundle()); err != nil {
				return err
			}
		}
		next, why, err := m.plan.next(current, m.cfg.Now())
		if err != nil {
			return err
		}
		stored = next
		if len(why) == 0 {
			return nil
		}
		if secret.Data == nil {
			secret.Data = map[string][]byte{}
		}
		delete(secret.Data, KeyPreviousCACert)
		maps.Copy(secret.Data, next.data())
		if secret.ResourceVersion == "" {
			_, err = secrets.Create(ctx, secret, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				// Another replica created it first: adopt theirs.
				return apierrors.NewConflict(corev1.Resource("secrets"), m.cfg.SecretName, err)
			}
		} else {
			_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
		}
		if err != nil {
			return err
		}
		m.cfg.Log.Info("updated webhook certificates", "secret", m.cfg.SecretName, "reasons", why,
			"caNotAfter", next.ca.cert.NotAfter, "certNotAfter", next.leaf.cert.NotAfter)
		return nil
	})
	if err != nil {
		return bundle{}, fmt.Errorf("secret %s/%s: %w", m.cfg.Namespace, m.cfg.SecretName, err)
	}
	return stored, nil
}

// syncCABundle sets caBundle on every webhook of the configuration.
func (m *Manager) syncCABundle(ctx context.Context, caBundle []byte) error {
	configs := m.cfg.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		config, err := configs.Get(ctx, m.cfg.WebhookConfigName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for i := range config.Webhooks {
			if !bytes.Equal(config.Webhooks[i].ClientConfig.CABundle, caBundle) {
				config.Webhooks[i].ClientConfig.CABundle = caBundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		if _, err := configs.Update(ctx, config, metav1.UpdateOptions{}); err != nil {
			return err
		}
		m.cfg.Log.Info("updated caBundle", "webhookConfiguration", m.cfg.WebhookConfigName, "webhooks", len(config.Webhooks))
		return nil
	})
	if err != nil {
		return fmt.Errorf("caBundle of MutatingWebhookConfiguration %s: %w", m.cfg.WebhookConfigName, err)
	}
	return nil
}
