package webhook

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// Options are the webhook-wide settings (the flags of the binary), shared by
// the admission handler and the inject command.
type Options struct {
	// SidecarImage is the image of the injected sidecar container.
	SidecarImage string
	// NativeSidecar injects the sidecar as an init container with
	// restartPolicy Always (Kubernetes >= 1.29), so it starts before Sidekiq
	// and stops after it. When false it is a regular container.
	NativeSidecar bool
	// DefaultMaxJobSeconds is used when a pod has no AnnotationMaxJobSeconds.
	DefaultMaxJobSeconds int
	// Random is where preStop tokens come from; nil means crypto/rand.
	// Tests give a fixed reader so that their outputs are stable.
	Random io.Reader
}

// DefaultMaxJobSeconds is the default of Options.DefaultMaxJobSeconds.
const DefaultMaxJobSeconds = contract.DefaultMaxJobSeconds

// Validate reports every bad option at once, each naming the flag.
func (o Options) Validate() error {
	var errs []error
	if strings.TrimSpace(o.SidecarImage) == "" {
		errs = append(errs, errors.New("--sidecar-image: must not be empty"))
	}
	if o.DefaultMaxJobSeconds < maxJobRange.min || o.DefaultMaxJobSeconds > maxJobRange.max {
		errs = append(errs, fmt.Errorf("--default-max-job-seconds: %d is not an integer %s",
			o.DefaultMaxJobSeconds, maxJobRange))
	}
	return errors.Join(errs...)
}

// random is the source of preStop tokens.
func (o Options) random() io.Reader {
	if o.Random == nil {
		return rand.Reader
	}
	return o.Random
}
