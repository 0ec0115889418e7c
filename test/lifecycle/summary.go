package lifecycle

import (
	"fmt"
	"slices"
	"time"
)

// Summary is one scenario's outcome: counts for the tests to assert, and
// one line for people.
type Summary struct {
	Scenario string
	Jobs
	Pods
	LivenessKills int // kubelet "Killing" events for a failed liveness probe
}

// String is the scenario's one-line summary.
func (s Summary) String() string {
	line := fmt.Sprintf("%s: jobs enqueued %d, completed %d, lost %d, duplicated %d, cut off %d; pods %d (uninjected %d); restarts %d (liveness kills %d); SIGKILLs %d",
		s.Scenario, s.Enqueued, s.Completed, s.Lost, s.Duplicated, s.CutOff, s.Seen, s.Uninjected,
		s.Restarts, s.LivenessKills, s.SIGKILLs)
	if len(s.Stops) > 0 {
		line += fmt.Sprintf("; stop seconds max %.1f, mean %.1f over %d pods", slices.Max(s.Stops).Seconds(), mean(s.Stops).Seconds(), len(s.Stops))
	}
	if s.QuietBySignal+s.QuietByRedis > 0 {
		line += fmt.Sprintf("; quieted by signal %d, through redis %d", s.QuietBySignal, s.QuietByRedis)
	}
	return line
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
