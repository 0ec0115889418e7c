package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/go-logr/logr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"sidekiq-probe.io/sidekiq-probe/webhook/server"
)

// serve runs the admission webhook until SIGTERM; see package webhook/server.
func serve(args []string, _ io.Reader, _, stderr io.Writer) int {
	cfg, err := server.ParseFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sidekiq-probe-webhook serve: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).With("version", version)
	// controller-runtime's webhook server and certwatcher log through logr.
	crlog.SetLogger(logr.FromSlogHandler(log.Handler()))

	setGCDefault(os.Getenv)
	setMemoryLimitDefault(os.Getenv, cfg.Limits.Memory)

	ctx, stop := signalContext(log)
	defer stop()
	if err := server.Run(ctx, cfg, server.Deps{Log: log}); err != nil {
		log.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// serve's live heap is about 4 MiB, next to a binary whose global data the
// collector also scans, so at Go's default of 100% growth the GC ran every
// few dozen admissions and took about a third of serve's CPU. At 200% serve
// spends 865-873 instead of 1,068-1,394 us of CPU per admission
// (test/load, BenchmarkServeTLS) for about 5 MiB more RSS: 40 MiB, peak 42,
// of which 23 are the binary's own pages (the chart requests 48Mi). 300%
// saved another 12% of CPU but peaked at 48-50.5 MiB under load, at the
// issue's 50 MiB target. GOGC, when set, wins; GOMEMLIMIT works as usual.
const gcPercent = 200

func setGCDefault(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// setMemoryLimitDefault makes the collector work harder before the heap
// outgrows the reviews' budget (--review-memory) and the process: at 200%
// growth it would otherwise let a 48 MiB live heap reach 150 MiB. The
// default, 88 MiB for the default budget, keeps RSS under the chart's
// 128Mi. GOMEMLIMIT, when set, wins.
func setMemoryLimitDefault(getenv func(string) string, reviewMemory int64) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(reviewMemory + server.ProcessMemory)
	}
}

// signalContext ends at the first SIGTERM or interrupt, which starts a
// graceful shutdown; a second signal exits at once.
func signalContext(log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-signals:
			log.Info("shutting down gracefully; send the signal again to exit now", "signal", sig.String())
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-signals:
			log.Warn("second signal: exiting now", "signal", sig.String())
			os.Exit(1)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		close(done)
		cancel()
	}
}
