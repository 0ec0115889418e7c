package lifecycle

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

// Stream enqueues SleepJobs (test/sidekiqapp): the app records each id in
// sidekiqapp:started when a run begins and in sidekiqapp:done when it ends,
// so a run cut short shows as a start without its end. It enqueues one job
// of 1..MaxSeconds seconds every Every until stopped.
type Stream struct {
	Redis      *redis.Client
	Rand       *rand.Rand // the job lengths; seeded by the caller
	Every      time.Duration
	MaxSeconds int
	Prefix     string // ids are Prefix-1, Prefix-2, ...

	mu       sync.Mutex
	enqueued []string
	err      error
}

// Run enqueues until ctx ends; call it in its own goroutine.
func (s *Stream) Run(ctx context.Context) {
	tick := time.NewTicker(s.Every)
	defer tick.Stop()
	for n := 1; ; n++ {
		id := fmt.Sprintf("%s-%d", s.Prefix, n)
		seconds := 1 + s.Rand.IntN(s.MaxSeconds)
		err := testsidekiq.Enqueue(ctx, s.Redis, float64(seconds), id)
		s.mu.Lock()
		if err == nil {
			s.enqueued = append(s.enqueued, id)
		} else if ctx.Err() == nil && s.err == nil {
			s.err = fmt.Errorf("enqueue %s: %w", id, err)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Enqueued lists the ids enqueued so far, and the first error, if any.
func (s *Stream) Enqueued() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.enqueued...), s.err
}

// Jobs is what happened to a set of enqueued jobs.
type Jobs struct {
	Enqueued   int
	Completed  int // ids that finished at least once
	Lost       int // ids that never finished
	Duplicated int // ids that started more than once (Sidekiq pushed them back)
	CutOff     int // runs that started and never finished
}

// CountJobs reads the app's records for ids.
func CountJobs(ctx context.Context, rdb *redis.Client, ids []string) (Jobs, error) {
	started, err := rdb.LRange(ctx, "sidekiqapp:started", 0, -1).Result()
	if err != nil {
		return Jobs{}, err
	}
	done, err := rdb.LRange(ctx, "sidekiqapp:done", 0, -1).Result()
	if err != nil {
		return Jobs{}, err
	}
	starts, ends := tally(started), tally(done)
	j := Jobs{Enqueued: len(ids)}
	for _, id := range ids {
		if ends[id] > 0 {
			j.Completed++
		} else {
			j.Lost++
		}
		if starts[id] > 1 {
			j.Duplicated++
		}
		j.CutOff += max(0, starts[id]-ends[id])
	}
	return j, nil
}

// WaitJobs waits until every id has finished, or within has passed, and
// counts them either way: a lost job is a result, not an error.
func WaitJobs(ctx context.Context, rdb *redis.Client, ids []string, within time.Duration) (Jobs, error) {
	_ = cluster.Poll(ctx, within, func() error {
		j, err := CountJobs(ctx, rdb, ids)
		if err == nil && j.Lost > 0 {
			err = fmt.Errorf("%d of %d jobs not finished", j.Lost, j.Enqueued)
		}
		return err
	})
	return CountJobs(ctx, rdb, ids)
}

func tally(ids []string) map[string]int {
	n := make(map[string]int, len(ids))
	for _, id := range ids {
		n[id]++
	}
	return n
}
