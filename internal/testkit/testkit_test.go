package testkit

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// fatalRecorder is a testing.TB whose Fatalf ends only its goroutine and
// keeps the message, so that a helper's failure can be looked at.
type fatalRecorder struct {
	testing.TB
	message string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.message = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls helper with a recorder on a goroutine of its own and returns
// what it failed with, or "" when it returned.
func run(t *testing.T, helper func(testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(rec)
	}()
	<-done
	return rec.message
}

func TestWaitUntil(t *testing.T) {
	tests := map[string]struct {
		succeedsOnTry int // 0: never
	}{
		"a try that succeeds at once returns":                 {succeedsOnTry: 1},
		"a try that succeeds on the third is waited for":      {succeedsOnTry: 3},
		"a try that never succeeds fails with its last error": {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tries := 0
			failure := run(t, func(tb testing.TB) {
				WaitUntil(tb, 200*time.Millisecond, "the thing", func() error {
					tries++
					if tries == tc.succeedsOnTry {
						return nil
					}
					return fmt.Errorf("try %d of many", tries)
				})
			})
			if tc.succeedsOnTry == 0 {
				if want := fmt.Sprintf("waited 200ms for the thing: try %d of many", tries); failure != want {
					t.Fatalf("failure %q, want %q (the last try's error)", failure, want)
				}
				return
			}
			if failure != "" || tries != tc.succeedsOnTry {
				t.Fatalf("returned after %d tries (failure %q), want %d tries", tries, failure, tc.succeedsOnTry)
			}
		})
	}
}

func TestWaitFor_FailsNamingWhat(t *testing.T) {
	failure := run(t, func(tb testing.TB) {
		WaitFor(tb, 100*time.Millisecond, "the condition", func() bool { return false })
	})
	if want := "waited 100ms for the condition: " + errNotYet.Error(); failure != want {
		t.Fatalf("failure %q, want %q", failure, want)
	}
}
