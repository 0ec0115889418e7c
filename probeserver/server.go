package probeserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

// Deps are the parts of the outside world the server uses, injected so tests
// can choose them.
type Deps struct {
	Redis  redis.Cmdable
	Clock  func() time.Time
	Signal Signaler
	Log    *slog.Logger
	Self   int // the sidecar's pid
}

// Server answers the probes and the preStop call.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	signal  Signaler
	obs     *Observer
	metrics *metrics
	rules   Rules
	// refusals bounds the log lines of refused /prestop calls.
	refusals rateLog

	mu    sync.Mutex
	hist  History
	drain *drain // replaced when Sidekiq restarts after a drain
	// embeddedSaid: the log said once that the pod's Sidekiq is embedded.
	embeddedSaid bool
}

// New builds a server; it does not touch Redis or /proc yet.
func New(cfg Config, d Deps) *Server {
	s := &Server{
		cfg:    cfg,
		log:    d.Log,
		clock:  d.Clock,
		signal: d.Signal,
		obs: &Observer{
			Proc:      procfs.FS{Root: cfg.ProcRoot},
			Redis:     d.Redis,
			Namespace: cfg.RedisNamespace,
			Hostname:  cfg.Hostname,
			Self:      d.Self,
			Clock:     d.Clock,
		},
		rules: Rules{HeartbeatTimeout: cfg.HeartbeatTimeout, RedisOutageRestartAfter: cfg.RedisOutageRestartAfter,
			QuietLimit: cfg.MaxJobTime + cfg.ShutdownTimeout + contract.GraceMarginSeconds*time.Second},
		drain: newDrain(),
	}
	s.metrics = newMetrics(cfg.MaxJobTime, s.jobAges)
	return s
}

// PathMetrics serves the sidecar's metrics; the webhook never refers to it.
const PathMetrics = "/metrics"

// Handler routes the contract's paths and PathMetrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+contract.PathStartup, s.probe("startup", func(sn Snapshot, _ History) Verdict { return Startup(sn) }))
	mux.Handle("GET "+contract.PathLive, s.probe("live", func(sn Snapshot, h History) Verdict { return Live(sn, h, s.rules) }))
	mux.Handle("GET "+contract.PathReady, s.probe("ready", func(sn Snapshot, h History) Verdict { return Ready(sn, h, s.rules) }))
	mux.Handle("GET "+contract.PathPreStop, s.authorized(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.write(w, "prestop", s.PreStop(r.Context()))
	})))
	mux.Handle("GET "+PathMetrics, s.metrics)
	return mux
}

func (s *Server) probe(name string, decide func(Snapshot, History) Verdict) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap, h, err := s.look(r.Context())
		v := fail(nil, "reading /proc failed")
		if err == nil {
			v = decide(snap, h)
		} else {
			s.log.Error("reading /proc", "err", err)
		}
		s.write(w, name, v)
	})
}

func (s *Server) write(w http.ResponseWriter, probe string, v Verdict) {
	s.metrics.result(probe, v)
	if !v.OK {
		s.log.Warn("probe failed", "probe", probe, "reason", v.Reason, "process", v.Process)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(map[bool]int{true: http.StatusOK, false: http.StatusServiceUnavailable}[v.OK])
	_ = json.NewEncoder(w).Encode(v)
}

// look takes a snapshot within the Redis time bound and records it.
func (s *Server) look(ctx context.Context) (Snapshot, History, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Redis.Timeout)
	defer cancel()
	snap, err := s.obs.Snapshot(ctx)
	if err != nil {
		return snap, History{}, err
	}
	s.mu.Lock()
	if snap.RedisErr != nil && s.hist.RedisDownSince.IsZero() {
		s.log.Warn("redis unreachable", "err", snap.RedisErr)
	}
	s.hist = s.hist.Observe(snap)
	if v, ok := embeddedVerdict(snap, true); ok && !s.embeddedSaid {
		s.embeddedSaid = true
		s.log.Error("not supported: probes answer 200 and preStop drains nothing", "reason", v.Reason, "process", v.Process)
	}
	if s.hist.Quieted && s.drain.restartedSince(snap) {
		s.log.Info("sidekiq started again after preStop (a liveness restart): ready to serve and to drain again")
		s.hist.Quieted, s.hist.QuietSince = false, time.Time{}
		s.drain = newDrain()
	}
	h := s.hist
	s.mu.Unlock()
	s.metrics.observe(snap, h)
	return snap, h, nil
}

// Serve answers on ln until ctx ends, then keeps answering until no Sidekiq
// process is left or MaxJobTime has passed: when the sidecar is an ordinary
// container it gets SIGTERM together with Sidekiq, and a preStop or probe
// still in flight must find it there.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	limit := newConnLimit(ln, maxConns)
	srv := newHTTPServer(s.Handler(), limit)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(limit) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.linger()
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func (s *Server) linger() {
	deadline := s.clock().Add(s.cfg.MaxJobTime)
	for {
		procs, err := s.obs.Proc.Sidekiqs(s.obs.Self)
		if err == nil && len(procs) == 0 {
			s.log.Info("no sidekiq process left, stopping")
			return
		}
		if !s.clock().Before(deadline) {
			s.log.Warn("sidekiq still running after max-job-seconds, stopping anyway", "processes", len(procs))
			return
		}
		time.Sleep(drainPoll)
	}
}
