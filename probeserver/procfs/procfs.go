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
// sidecar's own pid) and the parents of other Sidekiqs (see withoutParents).
// A process that exits while being read is skipped.
func (p FS) Sidekiqs(self int) ([]Process, error) {
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p.Root, err)
	}
	boot, err := p.bootTime()
	if err != nil {
		return nil, err
	}
	var found []candidate
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		c, ok, err := p.candidate(pid, boot, IsSidekiq)
		if err != nil {
			return nil, err
		}
		if ok {
			found = append(found, c)
		}
	}
	return withoutParents(found), nil
}

// candidate is a process that looks like Sidekiq, with its parent's pid.
type candidate struct {
	Process
	ppid int
}

// candidate reads one pid; ok is false when match does not want its
// command line or it is gone.
func (p FS) candidate(pid int, boot time.Time, match func(argv []string) bool) (candidate, bool, error) {
	argv, err := p.cmdline(pid)
	if err != nil || !match(argv) {
		return candidate{}, false, nil // gone, or not ours to judge
	}
	f, err := p.statFields(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return candidate{}, false, nil
	}
	if err != nil {
		return candidate{}, false, err
	}
	if len(f) < 20 || len(f[0]) != 1 {
		return candidate{}, false, fmt.Errorf("parse /proc/%d/stat: %d fields, want at least 22", pid, len(f)+2)
	}
	if f[0] == "Z" || f[0] == "X" {
		return candidate{}, false, nil // a zombie has finished; only its exit status is left
	}
	// Field 4 (ppid) is at index 1 and field 22 (starttime) at index 19.
	ppid, err1 := strconv.Atoi(f[1])
	ticks, err2 := strconv.ParseInt(f[19], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return candidate{}, false, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return candidate{Process: Process{
		PID:     pid,
		Cmdline: strings.Join(argv, " "),
		Started: boot.Add(time.Duration(ticks) * time.Second / clockTicks),
	}, ppid: ppid}, true, nil
}

// withoutParents drops every candidate that is the parent of another one. A
// process that started a Sidekiq is a wrapper or a supervisor (a Ruby script
// named bin/sidekiq running several workers, a bundler that forked): it owns
// no heartbeat and does not quiet on TSTP, which would suspend it. Its
// children are the workers.
func withoutParents(cs []candidate) []Process {
	parents := make(map[int]bool, len(cs))
	for _, c := range cs {
		parents[c.ppid] = true
	}
	var found []Process
	for _, c := range cs {
		if !parents[c.PID] {
			found = append(found, c.Process)
		}
	}
	return found
}

// Lookup reads one live process whatever its command line: an embedded
// Sidekiq runs inside another server, under that server's title.
func (p FS) Lookup(pid int) (Process, bool) {
	boot, err := p.bootTime()
	if err != nil {
		return Process{}, false
	}
	c, ok, err := p.candidate(pid, boot, func([]string) bool { return true })
	return c.Process, ok && err == nil
}

// Alive reports whether pid still exists and is not a zombie.
func (p FS) Alive(pid int) bool {
	state, err := p.State(pid)
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

// State is the process state letter of /proc/PID/stat: R, S, D, T (stopped,
// as by SIGTSTP without a handler), Z...
func (p FS) State(pid int) (byte, error) {
	f, err := p.statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 1 || len(f[0]) != 1 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no state", pid)
	}
	return f[0][0], nil
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
