package probeserver

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
	"sidekiq-probe.io/sidekiq-probe/probeserver/redisconn"
)

// testPod is one "pod": its own redis-server, the Sidekiq processes linked
// into its /proc view, and a probe server answering on 127.0.0.1.
type testPod struct {
	t        testing.TB
	redis    *testsidekiq.Redis
	rdb      *redis.Client // for test assertions
	hostname string
	procDir  string
	srv      *Server
	base     string
}

type podOptions struct {
	heartbeatTimeout time.Duration
	maxJobTime       time.Duration
	shutdownTimeout  time.Duration
	namespace        string
	token            Secret
	clock            func() time.Time // time.Now by default
	signal           Signaler         // syscall.Kill by default
	log              *slog.Logger     // testLogger() by default
}

func startPod(t testing.TB, o podOptions) *testPod {
	t.Helper()
	if o.heartbeatTimeout == 0 {
		o.heartbeatTimeout = 10 * time.Second
	}
	if o.maxJobTime == 0 {
		o.maxJobTime = 30 * time.Second
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	if o.signal == nil {
		o.signal = syscall.Kill
	}
	if o.log == nil {
		o.log = testLogger()
	}
	r := testsidekiq.StartRedis(t)
	p := &testPod{t: t, redis: r, rdb: r.Client(), hostname: "pod-" + strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))}
	t.Cleanup(func() { p.rdb.Close() })
	p.procDir = testsidekiq.PodProc(t)
	cfg := Config{
		Redis:            redisconn.Settings{URL: r.URL, Timeout: 300 * time.Millisecond, PoolSize: 4},
		RedisNamespace:   o.namespace,
		HeartbeatTimeout: o.heartbeatTimeout,
		MaxJobTime:       o.maxJobTime,
		ShutdownTimeout:  o.shutdownTimeout,
		PreStopToken:     o.token,
		QuietSignal:      syscall.SIGTSTP,
		QuietSignalName:  "TSTP",
		Hostname:         p.hostname,
		ProcRoot:         p.procDir,
	}
	client, err := redisconn.New(cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	p.srv = New(cfg, Deps{Redis: client, Clock: o.clock, Signal: o.signal, Self: os.Getpid(), Log: o.log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p.srv.Handler()}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	p.base = "http://" + ln.Addr().String()
	return p
}

// sidekiq starts a real Sidekiq in the pod and waits for its first heartbeat.
func (p *testPod) sidekiq(o testsidekiq.Options) *testsidekiq.Sidekiq {
	p.t.Helper()
	o.RedisURL, o.Hostname = p.redis.URL, p.hostname
	sk := testsidekiq.StartSidekiq(p.t, o)
	testsidekiq.AddToPodProc(p.t, p.procDir, sk.PID)
	sk.WaitHeartbeat(p.t, p.rdb, 30*time.Second)
	return sk
}

type answer struct {
	code    int
	verdict Verdict
}

func (p *testPod) get(path string) answer {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var a answer
	a.code = resp.StatusCode
	body, _ := io.ReadAll(resp.Body)
	if strings.HasSuffix(path, "z") || path == "/prestop" {
		if err := json.Unmarshal(body, &a.verdict); err != nil {
			p.t.Fatalf("GET %s: body %q: %v", path, body, err)
		}
	}
	return a
}

// waitCode polls path until it answers code.
func (p *testPod) waitCode(path string, code int, within time.Duration) answer {
	p.t.Helper()
	var last answer
	testkit.WaitFor(p.t, within, path+" to answer "+http.StatusText(code), func() bool {
		last = p.get(path)
		return last.code == code
	})
	return last
}

func (p *testPod) ctx() context.Context { return context.Background() }

// testLogger shows the server's logs with -v. (t.Log would panic when a
// drain goroutine logs after its test ended.)
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (p *testPod) getText(path string) string {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
