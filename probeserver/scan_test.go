package probeserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// reply is an error reply as go-redis returns it (a redis.Error).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

func TestAnswered(t *testing.T) {
	tests := map[string]struct {
		err      error
		answered bool
	}{
		"a key of the wrong type is an answer":           {reply("WRONGTYPE Operation against a key holding the wrong kind of value"), true},
		"an unknown script is an answer":                 {reply("NOSCRIPT No matching script. Please use EVAL."), true},
		"out of memory is an answer":                     {reply("OOM command not allowed when used memory > 'maxmemory'."), true},
		"a wrapped reply is an answer":                   {fmt.Errorf("hmget: %w", reply("WRONGTYPE x")), true},
		"a server loading its data serves no one":        {reply("LOADING Redis is loading the dataset in memory"), false},
		"a server running a long script serves no one":   {reply("BUSY Redis is busy running a script."), false},
		"a replica without its master serves no one":     {reply("MASTERDOWN Link with MASTER is down"), false},
		"a refused password is Redis refusing all of us": {reply("WRONGPASS invalid username-password pair"), false},
		"a network error is no answer":                   {&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		"a deadline is no answer":                        {context.DeadlineExceeded, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := answered(tc.err); got != tc.answered {
				t.Errorf("answered(%v) = %v, want %v", tc.err, got, tc.answered)
			}
		})
	}
}

// A host name with glob characters matches only itself, and a set larger
// than one look scans is scanned over several looks, each bounded.
func TestScan_FindsOnlyOurIdentitiesOverBoundedLooks(t *testing.T) {
	t.Parallel()
	r := testsidekiq.StartRedis(t)
	rdb := r.Client()
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	members := []any{`w[1]*?:7:aaaaaaaaaaaa`, `w1x:7:bbbbbbbbbbbb`, `wa:7:cccccccccccc`, `w[1]*?:8:dddddddddddd`, `w[1]*?:70:eeeeeeeeeeee`}
	for i := range 200_000 {
		members = append(members, fmt.Sprintf("other-%d:1:0123456789ab", i))
	}
	for chunk := range slices.Chunk(members, 10_000) {
		testkit.Must(t, rdb.SAdd(ctx, "processes", chunk...).Err())
	}
	o := &Observer{Redis: rdb, Hostname: `w[1]*?`}
	looks := 0
	for {
		looks++
		candidates, complete, err := o.scan(ctx, map[int]bool{7: true})
		testkit.Must(t, err)
		if complete {
			if !slices.Equal(candidates, []string{`w[1]*?:7:aaaaaaaaaaaa`}) {
				t.Errorf("candidates %q, want only w[1]*?:7:aaaaaaaaaaaa", candidates)
			}
			break
		}
		if candidates != nil || looks > 20 {
			t.Fatalf("look %d: candidates %q, complete %v", looks, candidates, complete)
		}
	}
	if looks < 2 {
		t.Errorf("a set of 200k members scanned in %d look, want several bounded ones", looks)
	}
}
