package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// budget is the memory the reviews in flight may take together. Unlike a
// FIFO semaphore (golang.org/x/sync/semaphore), any waiter whose request fits
// takes it: a review that holds its body's share and asks for its shape's
// must not queue behind one waiting for a share that only its own release
// would free (they deadlocked until their deadlines, test/hostile).
type budget struct {
	mu      sync.Mutex
	free    int64
	changed chan struct{} // closed and replaced on every release
}

func newBudget(size int64) *budget {
	return &budget{free: size, changed: make(chan struct{})}
}

// tryAcquire takes n at once if they are free.
func (b *budget) tryAcquire(n int64) bool {
	_, ok := b.take(n)
	return ok
}

// acquire takes n, waiting for them no longer than ctx.
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		changed, ok := b.take(n)
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take takes n if they are free, or returns what to wait on.
func (b *budget) take(n int64) (<-chan struct{}, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.free >= n {
		b.free -= n
		return nil, true
	}
	return b.changed, false
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
}

// charge is one review's share of the handler's memory budget: raised step
// by step as more is known (the body's length, then its shape), released
// once the answer is written.
type charge struct {
	budget  *budget       // nil: no budget (a Handler not from NewHandler)
	limit   int64         // the budget's size
	waiting *atomic.Int32 // reviews waiting for their share, of all
	held    int64
}

// maxWaiting bounds the reviews waiting for their share at once: each
// holds a goroutine, and over HTTP/2 up to 64 KiB its client sent meanwhile.
const maxWaiting = 64

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
	if !c.budget.tryAcquire(total - c.held) {
		if err := c.wait(ctx, total-c.held); err != nil {
			return &busyError{fmt.Errorf("the webhook is busy: the reviews in flight hold its memory budget (--review-memory, %d MiB), and this one, charged %d KiB by %s, %w",
				c.limit>>20, total>>10, what, err)}
		}
	}
	c.held = total
	return nil
}

func (c *charge) wait(ctx context.Context, n int64) error {
	defer c.waiting.Add(-1)
	if c.waiting.Add(1) > maxWaiting {
		return fmt.Errorf("found %d reviews already waiting", maxWaiting)
	}
	if err := c.budget.acquire(ctx, n); err != nil {
		return fmt.Errorf("waited until its deadline: %w", err)
	}
	return nil
}

func (c *charge) release() {
	if c.budget != nil && c.held > 0 {
		c.budget.release(c.held)
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
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
