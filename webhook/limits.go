package webhook

import (
	"errors"
	"fmt"
	"time"
)

// Limits bound the work and memory of the reviews in flight: every listener
// is hostile, and the webhook's container has a memory limit.
type Limits struct {
	// MaxReviewBytes is the largest review body read. The API server takes
	// request bodies of at most 3 MiB and etcd stores objects of at most
	// 1.5 MiB; a review carries the object re-encoded as JSON, which can be
	// larger than the body that was sent (a protobuf or YAML request,
	// escaped characters). 7 MiB (controller-runtime's limit) is twice that
	// with room for the review around it.
	MaxReviewBytes int64
	// Memory is what the reviews in flight may take together, as charged by
	// reviewCost. A review waits for its share until its deadline; one
	// whose share is over Memory is refused at once.
	Memory int64
	// MaxTimeout bounds a review's deadline, which is the API server's
	// ?timeout= (at most 30 s, its own maximum), or MaxTimeout without one.
	MaxTimeout time.Duration
}

// Defaults fit the chart's 128Mi: a 40 MiB process plus 48 MiB of reviews
// and the collector's headroom. 48 MiB admits one review of the largest
// size at a time (7 MiB of strings is charged 42 MiB), or hundreds of
// normal ones.
const (
	DefaultMaxReviewBytes = 7 << 20
	DefaultReviewMemory   = 48 << 20
	DefaultMaxTimeout     = 30 * time.Second
)

// DefaultLimits are the limits of a Handler made by NewHandler.
func DefaultLimits() Limits {
	return Limits{MaxReviewBytes: DefaultMaxReviewBytes, Memory: DefaultReviewMemory, MaxTimeout: DefaultMaxTimeout}
}

// Validate reports every bad limit at once, each naming its flag.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxReviewBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("--max-review-size: %d bytes is not accepted: at least 1Mi", l.MaxReviewBytes))
	}
	// A review of the largest size must be able to run at all.
	if need := costPerReview + costPerByte*l.MaxReviewBytes; l.Memory < need {
		errs = append(errs, fmt.Errorf("--review-memory: %d bytes is not accepted: at least %d (%d times --max-review-size, plus %d)",
			l.Memory, need, costPerByte, costPerReview))
	}
	if l.MaxTimeout < time.Second || l.MaxTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("--max-review-timeout: %v is not accepted: 1s to 1m", l.MaxTimeout))
	}
	return errors.Join(errs...)
}

// SetLimits replaces the handler's limits; call it before serving.
func (h *Handler) SetLimits(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	h.limits, h.budget = l, newBudget(l.Memory)
	return nil
}
