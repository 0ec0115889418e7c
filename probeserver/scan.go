package probeserver

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The "processes" set names every Sidekiq process of the Redis, and anyone
// who may write to Redis can grow it: SMEMBERS of 400k members took 0.5 s.
// The sidecar scans it instead, for this host's identities only
// (SSCAN MATCH "<hostname>:*"), in calls of scanCount members, at most
// scanCallsPerLook calls per look: a larger set is scanned over several
// looks, each within the probe's time. A set of up to 128 members, what
// real clusters have, comes whole in one call.
const (
	scanCount        = 1000
	scanCallsPerLook = 64
	// maxCandidates bounds the identities of our own pids read per pass:
	// a pod has a few processes, each with one identity (or a few left by
	// a reused pid).
	maxCandidates = 16
)

// scanPass is one SSCAN pass over "processes", carried across looks.
type scanPass struct {
	cursor     uint64
	candidates []string
}

// scan goes on with the pass and, once it went round the whole set, returns
// the identities found for the pids in unknown and starts over at the next
// look. A look that finds another one scanning leaves the scan to it.
func (o *Observer) scan(ctx context.Context, unknown map[int]bool) (candidates []string, complete bool, err error) {
	if !o.scanning.TryLock() {
		return nil, false, nil
	}
	defer o.scanning.Unlock()
	match := globEscape(o.Hostname) + ":*"
	for range scanCallsPerLook {
		members, next, err := o.Redis.SScan(ctx, o.key("processes"), o.pass.cursor, match, scanCount).Result()
		if err != nil && !answered(err) {
			return nil, false, err
		}
		// A reply such as WRONGTYPE is an answer: no identity there.
		for _, m := range members {
			if o.ours(m, unknown) && len(o.pass.candidates) < maxCandidates {
				o.pass.candidates = append(o.pass.candidates, m)
			}
		}
		if o.pass.cursor = next; err != nil || next == 0 {
			candidates, o.pass = o.pass.candidates, scanPass{}
			return candidates, true, nil
		}
	}
	return nil, false, nil
}

// ours reports whether identity m is "<hostname>:<pid>:<nonce>" for one of
// the pids in unknown, or for any pid when unknown is nil (the search for an
// embedded Sidekiq, embedded.go).
func (o *Observer) ours(m string, unknown map[int]bool) bool {
	rest, ok := strings.CutPrefix(m, o.Hostname+":")
	if !ok {
		return false
	}
	pid, nonce, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(pid)
	return ok && err == nil && nonce != "" && (unknown == nil || unknown[n])
}

// globEscape quotes the characters Redis's glob patterns treat specially, so
// a host name matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// serverDown are error replies that say the server serves no one right now:
// Sidekiq cannot beat either, so they count as an outage, as no answer does.
var serverDown = []string{"LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOAUTH", "WRONGPASS", "NOPERM"}

// answered reports whether err is a reply of a serving Redis about the key or
// the command (WRONGTYPE, NOSCRIPT, OOM...): Redis answered, and what the
// command would have read counts as missing. Network errors, timeouts and
// serverDown replies are not answers.
func answered(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	for _, p := range serverDown {
		if redis.HasErrorPrefix(err, p+" ") || err.Error() == p {
			return false
		}
	}
	return true
}

// unanswered returns the error of the first command of a pipeline that Redis
// did not answer (see answered), or nil.
func unanswered(err error, cmds []redis.Cmder) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !answered(e) {
			return e
		}
	}
	if !answered(err) {
		return err
	}
	return nil
}
