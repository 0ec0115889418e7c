// Command sidekiq-probe is the sidecar the webhook injects next to Sidekiq:
// it answers the kubelet's probes and the preStop call from Sidekiq's own
// heartbeat in Redis. Settings: see probeserver.ParseConfig or --help.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"sidekiq-probe.io/sidekiq-probe/probeserver"
	"sidekiq-probe.io/sidekiq-probe/probeserver/redisconn"
)

var version = "dev"

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := probeserver.ParseConfig(os.Args[1:], os.Getenv, os.Hostname)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sidekiq-probe: %v\n", err)
		os.Exit(2)
	}
	if err := run(cfg, log); err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func run(cfg probeserver.Config, log *slog.Logger) error {
	rdb, err := redisconn.New(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("serving", "version", version, "addr", ln.Addr().String(), "hostname", cfg.Hostname,
		"heartbeat_timeout", cfg.HeartbeatTimeout, "max_job_time", cfg.MaxJobTime)
	srv := probeserver.New(cfg, probeserver.Deps{
		Redis:  rdb,
		Clock:  time.Now,
		Signal: syscall.Kill,
		Log:    log,
		Self:   os.Getpid(),
	})
	return srv.Serve(ctx, ln)
}
