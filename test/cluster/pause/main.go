// Command pause is the sandbox ("pause") container of the local test
// cluster: it holds a pod's namespaces open and does nothing else.
//
// With shareProcessNamespace it is PID 1 of the whole pod, so orphaned
// processes of every container are re-parented to it: it reaps them, or they
// would stay zombies until the pod dies.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every exited child. One SIGCHLD may stand for several exits,
// so it loops until no child is left to collect.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
