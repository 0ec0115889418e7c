package probeserver

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/probeserver/procfs"
)

// Snapshot is one look at the pod's Sidekiq processes and their heartbeats.
type Snapshot struct {
	At        time.Time
	RedisErr  error // nil when Redis answered in time
	RTT       time.Duration
	Processes []Process
	// Embedded are Sidekiqs running inside another server of the pod
	// (embedded.go): never signalled, never drained.
	Embedded []Process
}

// Process is one Sidekiq process of the pod, joined to its heartbeat.
type Process struct {
	procfs.Process
	Identity  string     // "" until its heartbeat was found
	Heartbeat *Heartbeat // nil when the hash is missing or belongs to an older process
	Jobs      int        // running jobs: the larger of busy and the work hash's size
}

// Name is how logs and probe bodies name the process.
func (p Process) Name() string {
	if p.Identity != "" {
		return p.Identity
	}
	return "pid " + strconv.Itoa(p.PID)
}

// startSlack absorbs the rounding of /proc start times to clock ticks and of
// started_at, which Sidekiq takes after boot, so it is never much earlier.
const startSlack = 2 * time.Second

// Observer takes Snapshots. It remembers each process's identity, so a
// healthy probe costs one pipelined round trip and a hash is found even while
// its identity is missing from the "processes" set (after a Redis freeze).
type Observer struct {
	Proc      procfs.FS
	Redis     redis.Cmdable
	Namespace string
	Hostname  string
	Self      int // our own pid, never a Sidekiq
	Clock     func() time.Time

	mu       sync.Mutex
	known    map[int]knownIdentity // by pid
	embedded map[int]knownIdentity // embedded Sidekiqs found, by pid of their host

	scanning sync.Mutex // held by the one look that scans "processes"
	pass     scanPass   // the scan in progress, carried across looks
}

type knownIdentity struct {
	identity string
	started  time.Time // process start, so a reused pid forgets the identity
}

// Snapshot looks at /proc, then asks Redis about every process found. Redis
// errors land in the snapshot; only a failure to read /proc is returned.
func (o *Observer) Snapshot(ctx context.Context) (Snapshot, error) {
	procs, err := o.Proc.Sidekiqs(o.Self)
	if err != nil {
		return Snapshot{}, err
	}
	o.forgetExcept(procs)
	s := Snapshot{At: o.Clock(), Processes: make([]Process, len(procs))}
	for i, p := range procs {
		s.Processes[i] = Process{Process: p, Identity: o.identity(p)}
	}
	s.Embedded = o.knownEmbedded()
	start := time.Now()
	s.RedisErr = o.read(ctx, &s)
	s.RTT = time.Since(start)
	return s, nil
}

func (o *Observer) identity(p procfs.Process) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	k, ok := o.known[p.PID]
	if !ok || !k.started.Equal(p.Started) {
		return ""
	}
	return k.identity
}

// forgetExcept drops identities of processes that are gone.
func (o *Observer) forgetExcept(procs []procfs.Process) {
	o.mu.Lock()
	defer o.mu.Unlock()
	alive := make(map[int]bool, len(procs))
	for _, p := range procs {
		alive[p.PID] = true
	}
	for pid := range o.known {
		if !alive[pid] {
			delete(o.known, pid)
		}
	}
}

func (o *Observer) remember(p Process) { o.rememberIn(&o.known, p) }

// rememberIn records p's identity in *m (known or embedded), by pid, with
// the process's start so that a reused pid does not inherit it.
func (o *Observer) rememberIn(m *map[int]knownIdentity, p Process) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if *m == nil {
		*m = map[int]knownIdentity{}
	}
	(*m)[p.PID] = knownIdentity{identity: p.Identity, started: p.Started}
}

func (o *Observer) key(k string) string {
	if o.Namespace == "" {
		return k
	}
	return o.Namespace + ":" + k
}

// read fills in identities and heartbeats: the processes with a known
// identity, and the embedded Sidekiqs found earlier, in one pipeline; the
// others, while some are unknown, through a scan of the "processes" set
// (scan.go) and a pipeline of its candidates; while the pod shows no Sidekiq
// at all, the same scan looks for an embedded one (embedded.go).
func (o *Observer) read(ctx context.Context, s *Snapshot) error {
	procs := s.Processes
	var known []*Process
	unknown := map[int]bool{}
	for i := range s.Embedded {
		known = append(known, &s.Embedded[i])
	}
	for i := range procs {
		if procs[i].Identity != "" {
			known = append(known, &procs[i])
		} else {
			unknown[procs[i].PID] = true
		}
	}
	reads, err := o.pipeline(ctx, identities(known))
	if err != nil {
		return err
	}
	for i, p := range known {
		o.fill(p, reads[i])
	}
	if len(procs) == 0 && len(s.Embedded) == 0 {
		return o.findEmbedded(ctx, s)
	}
	if len(unknown) == 0 {
		return nil
	}
	candidates, complete, err := o.scan(ctx, unknown)
	if err != nil || !complete {
		return err
	}
	return o.discover(ctx, procs, candidates)
}

// discover joins processes without an identity to the candidate identities
// "hostname:pid:nonce" the scan found. A reused pid (a restarted pod with a
// stable name) can leave older identities with the same prefix; the one whose
// started_at is not older than the process and whose beat is newest wins.
func (o *Observer) discover(ctx context.Context, procs []Process, candidates []string) error {
	if len(candidates) == 0 {
		return nil
	}
	reads, err := o.pipeline(ctx, candidates)
	if err != nil {
		return err
	}
	for i := range procs {
		p := &procs[i]
		if p.Identity != "" {
			continue
		}
		prefix := fmt.Sprintf("%s:%d:", o.Hostname, p.PID)
		for j, id := range candidates {
			if !strings.HasPrefix(id, prefix) {
				continue
			}
			c := Process{Process: p.Process, Identity: id}
			if o.fill(&c, reads[j]); c.Heartbeat == nil {
				continue
			}
			if p.Heartbeat == nil || c.Heartbeat.Beat.After(p.Heartbeat.Beat) {
				*p = c
			}
		}
		if p.Identity != "" {
			o.remember(*p)
		}
	}
	return nil
}

// hashRead holds one identity's commands in a pipeline.
type hashRead struct {
	hash         *redis.SliceCmd
	work, worker *redis.IntCmd
}

// pipeline sends HMGET of the heartbeat's fields plus the sizes of both work
// hashes (":work" since 6.5, ":workers" in 6.4) per identity, in one round
// trip. Every command is O(1) whatever the hash holds.
func (o *Observer) pipeline(ctx context.Context, ids []string) ([]hashRead, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	reads := make([]hashRead, len(ids))
	cmds, err := o.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			reads[i] = hashRead{
				hash:   p.HMGet(ctx, o.key(id), heartbeatFields...),
				work:   p.HLen(ctx, o.key(id+":work")),
				worker: p.HLen(ctx, o.key(id+":workers")),
			}
		}
		return nil
	})
	if err := unanswered(err, cmds); err != nil {
		return nil, err
	}
	return reads, nil
}

// fill sets the heartbeat of p from its reads, dropping a hash that started
// before the process did: it belongs to an earlier process with the same pid.
// A hash that does not parse counts as missing: it says nothing about health,
// and Redis did answer.
func (o *Observer) fill(p *Process, r hashRead) {
	hb, err := parseHeartbeat(fieldsOf(r.hash.Val()))
	if err != nil {
		hb = nil
	}
	if hb != nil && hb.StartedAt.Before(p.Started.Add(-startSlack)) {
		hb = nil
	}
	p.Heartbeat = hb
	if hb != nil {
		p.Jobs = max(hb.Busy, int(r.work.Val()), int(r.worker.Val()))
	}
}

func identities(ps []*Process) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.Identity
	}
	return ids
}
