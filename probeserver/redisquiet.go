package probeserver

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// pushQuiet hands the quiet signal to Sidekiq through Redis: Sidekiq RPOPs
// "<identity>-signals" inside every heartbeat and signals itself.
func (s *Server) pushQuiet(p Process) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Redis.Timeout)
	defer cancel()
	key := s.obs.key(p.Identity + "-signals")
	if err := s.obs.Redis.LPush(ctx, key, s.cfg.QuietSignalName).Err(); err != nil {
		return err
	}
	s.log.Info("preStop: signal pushed through redis", "process", p.Name(), "key", key)
	return nil
}

// ackRead is one look at a pushed signal and the beat that may have taken it.
type ackRead struct {
	pending int64 // signals left in the list
	beat    float64
	jobs    int
}

// readAck reads the list, then the heartbeat, in one round trip. Redis runs
// the commands in order, so when the list is empty the hash read after it
// was written by the beat that popped the signal, or a later one: busy and
// the work hash are from that beat (the same MULTI sets busy and pops the
// list), never from an older one that missed jobs fetched since.
func (s *Server) readAck(ctx context.Context, id string) (ackRead, error) {
	var llen, work, workers *redis.IntCmd
	var fields *redis.SliceCmd
	_, err := s.obs.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		llen = p.LLen(ctx, s.obs.key(id+"-signals"))
		fields = p.HMGet(ctx, s.obs.key(id), "beat", "busy")
		work = p.HLen(ctx, s.obs.key(id+":work"))
		workers = p.HLen(ctx, s.obs.key(id+":workers"))
		return nil
	})
	if err != nil {
		return ackRead{}, err
	}
	vals := fields.Val()
	beatStr, _ := vals[0].(string)
	busyStr, _ := vals[1].(string)
	r := ackRead{pending: llen.Val()}
	var busy int
	if r.beat, err = strconv.ParseFloat(beatStr, 64); err != nil {
		return ackRead{}, fmt.Errorf("heartbeat beat %q: %w", beatStr, err)
	}
	if busy, err = strconv.Atoi(busyStr); err != nil {
		return ackRead{}, fmt.Errorf("heartbeat busy %q: %w", busyStr, err)
	}
	r.jobs = max(busy, int(work.Val()), int(workers.Val()))
	return r, nil
}

// checkAck marks q acknowledged once Sidekiq has taken the pushed signal:
// its list is empty and a beat newer than the one known at the push was
// written (an empty list alone could be a Redis that lost it).
func (s *Server) checkAck(p Process, q *quieting) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Redis.Timeout)
	defer cancel()
	a, err := s.readAck(ctx, p.Identity)
	if err != nil {
		s.log.Warn("preStop: reading the pushed signal", "process", p.Name(), "err", err)
		return
	}
	beat := epoch(a.beat)
	if a.pending > 0 || !beat.After(q.pushBeat) {
		return
	}
	q.ackedAt, q.ackBeat, q.ackIdle = s.clock(), beat, a.jobs == 0
	s.log.Info("preStop: sidekiq took the signal from redis", "process", p.Name(),
		"after", q.ackedAt.Sub(q.sentAt), "jobs_running", a.jobs)
}
