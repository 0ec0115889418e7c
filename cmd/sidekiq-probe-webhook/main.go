// Command sidekiq-probe-webhook is the sidekiq-probe admission webhook. Its
// subcommands: "inject" runs the mutation on manifests, "serve" runs the
// admission webhook server, "doctor" checks an installation.
package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"sidekiq-probe.io/sidekiq-probe/webhook"
	"sidekiq-probe.io/sidekiq-probe/webhook/inject"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// command runs a subcommand with its arguments and returns the exit status.
type command func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

// commands is the table of subcommands.
func commands() map[string]command {
	return map[string]command{
		"inject": func(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
			return inject.Main(args, stdin, stdout, stderr, webhook.Options{SidecarImage: defaultImage(), Random: rand.Reader})
		},
		"serve":  serve,
		"doctor": doctorCmd,
	}
}

// defaultImage is the sidecar image this build goes with: the same version,
// without a registry host, so a cluster resolves it through its own mirror.
func defaultImage() string { return "sidekiq-probe/sidekiq-probe:" + version }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) > 0 {
		if cmd, ok := cmds[args[0]]; ok {
			return cmd(args[1:], stdin, stdout, stderr)
		}
	}
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Fprintf(stderr, "sidekiq-probe-webhook %s\nusage: sidekiq-probe-webhook %s [flags]\n",
		version, strings.Join(names, "|"))
	switch {
	case len(args) == 0:
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		return 0
	}
	fmt.Fprintf(stderr, "unknown command %q\n", args[0])
	return 2
}
