package testkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// StatusKiB reads one size line of /proc/PID/status ("VmRSS", "VmHWM", ...)
// in KiB: how the footprint benchmarks measure a real process.
func StatusKiB(t testing.TB, pid int, field string) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	Must(t, err)
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			Must(t, err)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
