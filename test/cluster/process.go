package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startProcess starts bin in its own session, logging to logs/<name>.log and
// recording its PID in run/<name>.pid, so a later Stop can find it even when
// the program that started it is gone (the CLI, or a crashed test).
func startProcess(state, name, bin string, args ...string) error {
	for _, dir := range []string{"logs", "run"} {
		if err := os.MkdirAll(filepath.Join(state, dir), 0o755); err != nil {
			return err
		}
	}
	logFile, err := os.Create(filepath.Join(state, "logs", name+".log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	// Reap it when it exits, so a stopped process does not linger as a zombie
	// that still looks alive to stopProcess.
	go cmd.Wait()
	return os.WriteFile(pidFile(state, name), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

func pidFile(state, name string) string {
	return filepath.Join(state, "run", name+".pid")
}

// running reports whether the process recorded under name still runs bin.
func running(state, name, bin string) bool {
	pid, err := readPID(state, name)
	if err != nil {
		return false
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return exe == bin && alive(pid)
}

func readPID(state, name string) (int, error) {
	data, err := os.ReadFile(pidFile(state, name))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s: bad PID file: %w", name, err)
	}
	return pid, nil
}

// stopProcess sends SIGTERM to the recorded process, then SIGKILL after
// grace, and waits until it is gone. A missing PID file, or a PID now used by
// another program, means there is nothing to stop.
func stopProcess(state, name, bin string, grace time.Duration) error {
	pid, err := readPID(state, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == bin {
		syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			for alive(pid) {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	return os.Remove(pidFile(state, name))
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state letter follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// run runs a command in dir, with its output in the error when it fails.
func run(ctx context.Context, dir, name string, args ...string) error {
	return runEnv(ctx, dir, nil, name, args...)
}

func runEnv(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return nil
}
