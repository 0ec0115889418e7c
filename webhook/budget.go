package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/sync/semaphore"
)

// charge is one review's share of the handler's memory budget: raised step
// by step as more is known (the body's length, then its shape), released
// once the answer is written.
type charge struct {
	budget *semaphore.Weighted // nil: no budget (a Handler not from NewHandler)
	limit  int64               // the budget's size
	held   int64
}

// to raises the charge to total bytes, waiting for them no longer than ctx.
// A charge over the whole budget could never be met: it is refused at once.
func (c *charge) to(ctx context.Context, total int64, what string) error {
	if c.budget == nil || total <= c.held {
		return nil
	}
	if total > c.limit {
		return &tooLargeError{fmt.Errorf("the review would take about %d MiB to handle (by %s), more than all reviews in flight may take together: %d MiB (--review-memory)",
			total>>20, what, c.limit>>20)}
	}
	if err := c.budget.Acquire(ctx, total-c.held); err != nil {
		return &busyError{fmt.Errorf("the webhook is busy: the reviews in flight hold its memory budget (--review-memory, %d MiB), and this one, charged %d KiB by %s, waited until its deadline: %w",
			c.limit>>20, total>>10, what, err)}
	}
	c.held = total
	return nil
}

func (c *charge) release() {
	if c.budget != nil && c.held > 0 {
		c.budget.Release(c.held)
		c.held = 0
	}
}

// busyError: the review waited for its share of the budget until its
// deadline. It is answered with an HTTP error, a failed call to which the
// API server applies the webhook's failure policy.
type busyError struct{ error }

func (e *busyError) Unwrap() error { return e.error }

// tooLargeError: the review is over a limit it can never meet.
type tooLargeError struct{ error }

func (e *tooLargeError) Unwrap() error { return e.error }

// errorCode is the status put in the answer to a review that failed.
func errorCode(err error) int32 {
	var tooLarge *tooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadRequest
}
