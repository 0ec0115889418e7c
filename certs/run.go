package certs

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// retryAfter is the pause after a failed pass, shorter than Resync so a
// starting replica gets its certificate soon after the API server answers.
const retryAfter = 5 * time.Second

// Run reconciles until ctx ends: at start, whenever the Secret changes (a
// peer rotated something), and every Resync, which is what moves a CA
// rotation through its steps.
func (m *Manager) Run(ctx context.Context) error {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	// The RBAC rule names the one Secret, so list and watch must select it
	// by name.
	factory := informers.NewSharedInformerFactoryWithOptions(m.cfg.Client, 0,
		informers.WithNamespace(m.cfg.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", m.cfg.SecretName).String()
		}))
	informer := factory.Core().V1().Secrets().Informer()
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(_, _ any) { poke() },
		DeleteFunc: func(any) { poke() },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-timer.C:
		}
		wait := m.cfg.Resync
		if err := m.Reconcile(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			m.cfg.Log.Error("certificate pass failed", "err", err, "retryIn", retryAfter)
			wait = retryAfter
		}
		timer.Reset(wait)
	}
}
