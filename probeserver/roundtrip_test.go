package probeserver

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
	"sidekiq-probe.io/sidekiq-probe/probeserver/redisconn"
)

// A probe of a healthy pod costs Redis one round trip: once the sidecar
// knows Sidekiq's identity, HMGET of the heartbeat's fields and the two
// HLENs go in one pipeline. The first probe costs more (connecting, then a
// scan of the "processes" set to learn the identity) and is not counted.
func TestProbe_OneRedisRoundTripOnceTheIdentityIsKnown(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	p.sidekiq(testsidekiq.Options{})

	client, err := redisconn.New(p.srv.cfg.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	counter := &roundTrips{}
	client.AddHook(counter)
	srv := New(p.srv.cfg, Deps{Redis: client, Clock: time.Now, Signal: syscall.Kill, Self: os.Getpid(), Log: testLogger()})
	h := srv.Handler()

	for i, path := range []string{contract.PathStartup, contract.PathLive, contract.PathReady, contract.PathLive} {
		before, beforeCmds := counter.trips.Load(), counter.commands.Load()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("%s = %d %s", path, w.Code, w.Body)
		}
		if i == 0 {
			continue
		}
		trips, cmds := counter.trips.Load()-before, counter.commands.Load()-beforeCmds
		if trips != 1 || cmds != 3 {
			t.Errorf("%s (probe %d): %d round trips, %d commands; want 1 round trip of 3 (HMGET, HLEN :work, HLEN :workers)",
				path, i+1, trips, cmds)
		}
	}
}

// roundTrips counts what a go-redis client sends: a command alone or a
// pipeline is one round trip.
type roundTrips struct{ trips, commands atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.trips.Add(1)
		c.commands.Add(1)
		return next(ctx, cmd)
	}
}

func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.commands.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
