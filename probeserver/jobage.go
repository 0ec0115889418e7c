package probeserver

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The work hashes are Redis data, not ours, so what one scrape reads is
// bounded. Sidekiq writes one entry per busy thread: a hash of more than
// maxJobsRead entries is not Sidekiq's and is left out. An entry longer than
// maxJobBytes (a job with arguments of more than 16 KiB) is left out too:
// reading values into the script costs Redis time in proportion to their
// size (25 jobs of 1 MB took 0.3 s a scrape), and that time blocks every
// client of the Redis, Sidekiq included.
const (
	maxJobsRead = 256
	maxJobBytes = 16 << 10
)

// oldestJobScript returns, for each work hash in KEYS, the smallest run_at
// of its jobs (epoch seconds), or -1. It runs in Redis so that only one
// integer per hash crosses the network: each value is
// {"queue":..,"payload":"<JSON string>","run_at":N}, and run_at, written
// last, is looked for in the value's last 64 bytes, else its first 64. A
// "run_at" inside the payload is escaped (\"run_at\") and never matches.
var oldestJobScript = redis.NewScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local oldest = -1
  if redis.call('HLEN', key) <= tonumber(ARGV[1]) then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      if redis.call('HSTRLEN', key, f) <= tonumber(ARGV[2]) then
        local v = redis.call('HGET', key, f)
        local at = string.match(string.sub(v, -64), '"run_at":(%d+)') or string.match(string.sub(v, 1, 64), '"run_at":(%d+)')
        if at then
          at = tonumber(at)
          if oldest < 0 or at < oldest then oldest = at end
        end
      end
    end
  end
  out[i] = oldest
end
return out
`)

// OldestJobs returns when the oldest running job of each process with a
// known identity started, by pid, from its ":work" (6.5+) or ":workers"
// (6.4) hash, in one script call. Processes running no job are left out.
func (o *Observer) OldestJobs(ctx context.Context) (map[int]time.Time, error) {
	o.mu.Lock()
	pids := make([]int, 0, len(o.known))
	keys := make([]string, 0, 2*len(o.known))
	for pid, k := range o.known {
		pids = append(pids, pid)
		keys = append(keys, o.key(k.identity+":work"), o.key(k.identity+":workers"))
	}
	o.mu.Unlock()
	if len(pids) == 0 {
		return nil, nil
	}
	runAts, err := oldestJobScript.Run(ctx, o.Redis, keys, strconv.Itoa(maxJobsRead), strconv.Itoa(maxJobBytes)).Int64Slice()
	if err != nil {
		return nil, err
	}
	oldest := map[int]time.Time{}
	for i, pid := range pids {
		for _, at := range runAts[2*i : min(2*i+2, len(runAts))] {
			if t := time.Unix(at, 0); at >= 0 && (oldest[pid].IsZero() || t.Before(oldest[pid])) {
				oldest[pid] = t
			}
		}
	}
	return oldest, nil
}

// jobAges is the age of each process's oldest running job, by pid, for
// /metrics; nil when Redis did not answer in time (the scrape goes on).
func (s *Server) jobAges(ctx context.Context) map[int]float64 {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Redis.Timeout)
	defer cancel()
	oldest, err := s.obs.OldestJobs(ctx)
	if err != nil {
		s.log.Warn("reading the running jobs' ages for /metrics", "err", err)
		return nil
	}
	now := s.clock()
	ages := make(map[int]float64, len(oldest))
	for pid, started := range oldest {
		ages[pid] = max(0, now.Sub(started).Seconds())
	}
	return ages
}
