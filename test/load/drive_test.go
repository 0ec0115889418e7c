package load

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The CPUs of the pinned runs: the server gets one, the generator the other.
const (
	serverCPU    = "0"
	generatorCPU = 1
)

// pacedRate is the paced run's admissions per second on one server core:
// the 3,000/s on 2 cores, halved.
const pacedRate = 1500

// closedLoop sends b.N requests from inFlight goroutines, each sending its
// next request when its last is answered; it returns the latencies.
func closedLoop(b *testing.B, inFlight int, send func() error) []time.Duration {
	var next sync.WaitGroup
	per := make([][]time.Duration, inFlight)
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	for g := range inFlight {
		next.Go(func() {
			for range work {
				start := time.Now()
				if send() == nil {
					per[g] = append(per[g], time.Since(start))
				}
			}
		})
	}
	next.Wait()
	var all []time.Duration
	for _, l := range per {
		all = append(all, l...)
	}
	return all
}

// openLoop sends b.N requests at rate per second, on schedule whether or
// not earlier ones were answered, and times each from when it was due: a
// server that falls behind shows it in the latencies, not in a slower
// generator (no coordinated omission).
func openLoop(b *testing.B, rate int, send func() error) []time.Duration {
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		lags      = make([]time.Duration, 0, b.N)
	)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range b.N {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		wg.Go(func() {
			lag := time.Since(due)
			err := send()
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			lags = append(lags, lag)
			if err == nil {
				latencies = append(latencies, took)
			}
		})
	}
	wg.Wait()
	// How late the generator itself started requests: what of the
	// latencies is its doing, not the server's.
	slices.Sort(lags)
	b.ReportMetric(quantile(lags, 0.99).Seconds()*1000, "generator-lag-p99-ms")
	return latencies
}

// pinSelf runs every thread of this process on cpu (threads started later
// inherit it) and returns the undo.
func pinSelf(b *testing.B, cpu int) (restore func()) {
	var all, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		b.Fatal(err)
	}
	one.Set(cpu)
	setAll := func(set *unix.CPUSet) {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// A thread may exit between the listing and the call.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				b.Fatalf("pinning thread %d to CPU %d: %v", tid, cpu, err)
			}
		}
	}
	setAll(&one)
	return func() { setAll(&all) }
}
