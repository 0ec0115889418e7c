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
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/probeserver"
	"sidekiq-probe.io/sidekiq-probe/probeserver/redisconn"
)

var version = "dev"

func main() {
	setMemoryDefaults(os.Getenv)
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

// The sidecar runs in every Sidekiq pod, so its memory is paid once per pod.
// Its live heap is a few hundred KiB; what the Go defaults let grow is
// garbage between two collections. Unless GOGC or GOMEMLIMIT say otherwise:
//   - GC at 50% heap growth instead of 100%: at 50 probes/s this keeps RSS
//     about 2 MiB lower (make bench; docs/performance.md has the CPU cost).
//   - A soft limit at 24 MiB, three quarters of the 32Mi limit the webhook
//     sets, so a burst makes the GC work harder before the kernel OOM-kills.
const (
	gcPercent   = 50
	memoryLimit = 24 << 20
)

func setMemoryDefaults(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
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
		"heartbeat_timeout", cfg.HeartbeatTimeout, "max_job_time", cfg.MaxJobTime,
		"shutdown_timeout", cfg.ShutdownTimeout, "prestop_token", cfg.PreStopToken != "")
	if cfg.PreStopToken == "" {
		log.Warn("no preStop token: anyone who reaches this port can quiet Sidekiq through /prestop; set " +
			contract.EnvPreStopToken + " (the webhook does)")
	}
	srv := probeserver.New(cfg, probeserver.Deps{
		Redis:  rdb,
		Clock:  time.Now,
		Signal: syscall.Kill,
		Log:    log,
		Self:   os.Getpid(),
	})
	return srv.Serve(ctx, ln)
}
