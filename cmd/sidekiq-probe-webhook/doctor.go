package main

import (
	"io"
	"time"

	"sidekiq-probe.io/sidekiq-probe/doctor"
)

// doctorCmd checks an installation with the user's kubeconfig; see package
// doctor.
func doctorCmd(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return doctor.Main(args, stdout, stderr, time.Now)
}
