// Command cluster starts or stops the local single-node test cluster in
// bin/cluster, for `make cluster-up`, `make cluster-down` and the demo:
//
//	go run ./test/cluster/cmd/cluster up [-sidekiq]
//	go run ./test/cluster/cmd/cluster down
//
// "up" returns once the node is Ready and leaves the cluster running; the
// kubeconfig is bin/cluster/kubeconfig.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"sidekiq-probe.io/sidekiq-probe/test/cluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.Error("cluster", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	usage := fmt.Errorf("usage: cluster up [-sidekiq] | cluster down")
	if len(args) == 0 {
		return usage
	}
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	sidekiq := flags.Bool("sidekiq", false, "also import the Sidekiq image (downloads Debian packages once)")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch args[0] {
	case "up":
		c, err := cluster.Start(ctx, cluster.Options{Sidekiq: *sidekiq})
		if err != nil {
			return err
		}
		fmt.Printf("cluster up: export KUBECONFIG=%s; %s get nodes\n", c.Kubeconfig, c.Kubectl)
		return nil
	case "down":
		return cluster.Down(ctx, cluster.Options{})
	default:
		return usage
	}
}
