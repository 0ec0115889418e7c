// Package procfs finds the Sidekiq processes of a pod by reading /proc.
//
// The sidecar shares the pod's PID namespace (shareProcessNamespace), so every
// Sidekiq process of the pod is visible under /proc with its command line and
// its start time. The root directory is a parameter so tests can point it at a
// fixture tree.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's start time. The kernel
// fixes it at 100 on every architecture Kubernetes runs on, and reading it
// properly (sysconf) would need cgo.
const clockTicks = 100

// Process is one Sidekiq process seen in /proc.
type Process struct {
	PID     int
	Cmdline string // argv joined by spaces, for logs
	// Started is when the process started, to second precision. It guards
	// against pid reuse: a heartbeat whose started_at is older than the
	// process cannot be its own.
	Started time.Time
}

// FS reads one /proc tree.
type FS struct {
	Root string // "/proc" in production
}

// Sidekiqs lists the Sidekiq processes under the root, leaving out self (the
// sidecar's own pid). A process that exits while being read is skipped.
func (p FS) Sidekiqs(self int) ([]Process, error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p.Root, err)
	}
	boot, err := p.bootTime()
	if err != nil {
		return nil, err
	}
	var found []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		argv, err := p.cmdline(pid)
		if err != nil || !IsSidekiq(argv) {
			continue // gone, or not ours to judge
		}
		if !p.Alive(pid) {
			continue // a zombie has finished; only its exit status is left
		}
		ticks, err := p.startTicks(pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = append(found, Process{
			PID:     pid,
			Cmdline: strings.Join(argv, " "),
			Started: boot.Add(time.Duration(ticks) * time.Second / clockTicks),
		})
	}
	return found, nil
}

// Alive reports whether pid still exists and is not a zombie.
func (p FS) Alive(pid int) bool {
	state, err := p.state(pid)
	return err == nil && state != 'Z' && state != 'X'
}

func (p FS) cmdline(pid int) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, err
	}
	var argv []string
	for _, a := range bytes.Split(raw, []byte{0}) {
		if len(a) > 0 {
			argv = append(argv, string(a))
		}
	}
	return argv, nil
}

// statFields returns the fields of /proc/PID/stat after the command name. The
// name sits in parentheses and may itself hold spaces and parentheses, so the
// split starts after the last ')'.
func (p FS) statFields(pid int) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	return strings.Fields(string(raw[i+1:])), nil
}

func (p FS) state(pid int) (byte, error) {
	f, err := p.statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 1 || len(f[0]) != 1 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no state", pid)
	}
	return f[0][0], nil
}

// startTicks reads field 22 (starttime): clock ticks after boot. After the
// name, field 3 (state) is at index 0, so field 22 is at index 19.
func (p FS) startTicks(pid int) (int64, error) {
	f, err := p.statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields, want at least 22", pid, len(f)+2)
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat starttime %q: %w", pid, f[19], err)
	}
	return ticks, nil
}

// bootTime reads "btime" from /proc/stat.
func (p FS) bootTime() (time.Time, error) {
	raw, err := os.ReadFile(filepath.Join(p.Root, "stat"))
	if err != nil {
		return time.Time{}, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("parse btime %q in %s/stat: %w", v, p.Root, err)
			}
			return time.Unix(secs, 0), nil
		}
	}
	return time.Time{}, fmt.Errorf("no btime line in %s/stat", p.Root)
}
