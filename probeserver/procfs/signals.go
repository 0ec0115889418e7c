package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Catches reports whether pid has a handler for sig, from the SigCgt mask of
// /proc/PID/status (readable by every user, so across containers too).
//
// A signal whose default action stops the process (SIGTSTP) must only go to
// a process that traps it: Ruby installs no TSTP handler of its own, and
// Sidekiq traps TSTP only once it has booted, just before its first
// heartbeat. Before that, or in a supervisor that never traps it, SIGTSTP
// stops the process (state T) with SIGTERM left pending, and the pod waits
// out its whole grace period.
func (p FS) Catches(pid int, sig syscall.Signal) (bool, error) {
	raw, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "status"))
	if err != nil {
		return false, err
	}
	mask, err := sigCgt(raw)
	if err != nil {
		return false, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	if sig < 1 || sig > 64 {
		return false, fmt.Errorf("signal %d out of 1-64", sig)
	}
	return mask&(1<<(uint(sig)-1)) != 0, nil
}

// sigCgt parses the "SigCgt:\t000000014a197e4b" line: bit n-1 is signal n.
func sigCgt(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("SigCgt %q: %w", strings.TrimSpace(v), err)
			}
			return mask, nil
		}
	}
	return 0, fmt.Errorf("no SigCgt line")
}
