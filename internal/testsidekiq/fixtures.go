package testsidekiq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Version is how one line of Sidekiq releases writes its heartbeat to Redis.
// Debian packages only 6.4, so tests of the other lines write these shapes
// into real redis-server. Fields, info keys, the running-jobs hash and the
// periods are the ones recorded from real processes (the shared facts,
// sidekiq.md), except where a comment says otherwise.
type Version struct {
	Name    string // "6.4", "6.5", "7.3", "8.0", "8.1"
	Release string // in the process title, and info.version from 7 on
	// WorkKey is the suffix of the running jobs hash, thread id -> JSON.
	WorkKey string
	// Fields are the process hash's fields; InfoKeys the keys of its info
	// JSON. Writers put exactly these, nothing more.
	Fields, InfoKeys []string
	// Periods are heartbeat periods (one beat to the next) seen: idle, with
	// sleeping jobs, and with every thread on CPU-bound Ruby.
	Periods []time.Duration
	// MillisTimestamps: job payloads carry created_at/enqueued_at in ms.
	MillisTimestamps bool
}

var (
	fields6   = []string{"info", "busy", "beat", "quiet", "rss", "rtt_us"}
	fields7   = []string{"beat", "busy", "info", "quiet", "rss", "rtt_us"}
	info6     = []string{"hostname", "started_at", "pid", "tag", "concurrency", "queues", "labels", "identity"}
	periods78 = []time.Duration{10001 * time.Millisecond, 10006 * time.Millisecond, 10130 * time.Millisecond, 11340 * time.Millisecond}
	Sidekiq64 = Version{Name: "6.4", Release: "6.4.1", WorkKey: "workers", Fields: fields6, InfoKeys: info6, Periods: []time.Duration{5 * time.Second}}
	Sidekiq65 = Version{Name: "6.5", Release: "6.5.12", WorkKey: "work", Fields: fields6, InfoKeys: info6, Periods: []time.Duration{10 * time.Second}}
	Sidekiq73 = Version{Name: "7.3", Release: "7.3.10", WorkKey: "work", Fields: fields7, Periods: periods78,
		InfoKeys: []string{"hostname", "started_at", "pid", "tag", "concurrency", "queues", "weights", "labels", "identity", "version", "embedded"}}
	Sidekiq80 = Version{Name: "8.0", Release: "8.0.10", WorkKey: "work", Fields: fields7, Periods: periods78, MillisTimestamps: true,
		InfoKeys: []string{"hostname", "started_at", "pid", "tag", "concurrency", "capsules", "queues", "weights", "labels", "identity", "version", "embedded"}}
	Sidekiq81 = Version{Name: "8.1", Release: "8.1.7", WorkKey: "work", Fields: append(fields7[:6:6], "concurrency"), Periods: periods78, MillisTimestamps: true,
		InfoKeys: []string{"hostname", "started_at", "pid", "tag", "capsules", "queues", "weights", "labels", "identity", "version", "embedded"}}

	// Versions are every line the sidecar reads, oldest first. 6.5 is not
	// in the recorded facts: its fields are 6.4's with ":work" (recorded as
	// 6.5+), and its 10 s period is BEAT_PAUSE in Sidekiq 6.5's launcher.
	Versions = []Version{Sidekiq64, Sidekiq65, Sidekiq73, Sidekiq80, Sidekiq81}
)

// MaxPeriod is the longest period seen for the version.
func (v Version) MaxPeriod() time.Duration { return v.Periods[len(v.Periods)-1] }

// Title is the process title Sidekiq sets at each beat, as in
// "sidekiq 7.3.10  [0 of 2 busy]" (an empty tag leaves two spaces).
func (v Version) Title(tag string, busy, concurrency int) string {
	return fmt.Sprintf("sidekiq %s %s [%d of %d busy]", v.Release, tag, busy, concurrency)
}

// Beat is what one process writes at one heartbeat.
type Beat struct {
	Hostname  string
	PID       int
	Nonce     string // 12 hex digits; "0123456789ab" when empty
	Tag       string
	StartedAt time.Time
	At        time.Time // the beat; time.Now() when zero
	Quiet     bool
	Embedded  bool // Sidekiq.configure_embed (7+)
	// Capsules by name with their threads; {"default": 5} when nil.
	Capsules map[string]int
	Jobs     []Job // running jobs
}

// Job is one running job in the work hash.
type Job struct {
	Class string
	RunAt time.Time // when the job started (run_at, whole seconds)
}

// Identity is the process's key, "hostname:pid:nonce".
func (b Beat) Identity() string {
	nonce := b.Nonce
	if nonce == "" {
		nonce = "0123456789ab"
	}
	return fmt.Sprintf("%s:%d:%s", b.Hostname, b.PID, nonce)
}

func (b Beat) concurrency() int {
	n := 0
	for _, c := range b.capsules() {
		n += c
	}
	return n
}

func (b Beat) capsules() map[string]int {
	if b.Capsules == nil {
		return map[string]int{"default": 5}
	}
	return b.Capsules
}

// Info is the info JSON the version writes for b: exactly its InfoKeys.
func (v Version) Info(b Beat) string {
	all := map[string]any{
		"hostname": b.Hostname, "started_at": epoch(b.StartedAt), "pid": b.PID, "tag": b.Tag,
		"concurrency": b.concurrency(), "queues": []string{"default"}, "labels": []string{},
		"identity": b.Identity(), "version": v.Release, "embedded": b.Embedded,
		// The shape of 7.3's weights is not recorded; the sidecar does not
		// read it.
		"weights": []map[string]int{{"default": 0}},
	}
	capsules := map[string]any{}
	for name, threads := range b.capsules() {
		capsules[name] = map[string]any{"concurrency": threads, "mode": "strict", "weights": map[string]int{"default": 0}}
	}
	all["capsules"] = capsules
	info := make(map[string]any, len(v.InfoKeys))
	for _, k := range v.InfoKeys {
		info[k] = all[k]
	}
	raw, _ := json.Marshal(info)
	return string(raw)
}

// Hash is the process hash the version writes for b: exactly its Fields.
func (v Version) Hash(b Beat) map[string]string {
	at := b.At
	if at.IsZero() {
		at = time.Now()
	}
	all := map[string]string{
		"info": v.Info(b), "busy": strconv.Itoa(len(b.Jobs)), "beat": strconv.FormatFloat(epoch(at), 'f', -1, 64),
		"quiet": strconv.FormatBool(b.Quiet), "rss": "51200", "rtt_us": "90", "concurrency": strconv.Itoa(b.concurrency()),
	}
	hash := make(map[string]string, len(v.Fields))
	for _, f := range v.Fields {
		hash[f] = all[f]
	}
	return hash
}

// Work is the running jobs hash: thread id -> {"queue","payload","run_at"},
// payload a JSON string, run_at whole epoch seconds.
func (v Version) Work(b Beat) map[string]string {
	work := make(map[string]string, len(b.Jobs))
	for i, j := range b.Jobs {
		enqueued := any(epoch(j.RunAt))
		if v.MillisTimestamps {
			enqueued = j.RunAt.UnixMilli()
		}
		payload, _ := json.Marshal(map[string]any{"retry": true, "queue": "default", "class": j.Class, "args": []any{},
			"jid": fmt.Sprintf("%024x", i), "created_at": enqueued, "enqueued_at": enqueued})
		value, _ := json.Marshal(struct {
			Queue   string `json:"queue"`
			Payload string `json:"payload"`
			RunAt   int64  `json:"run_at"`
		}{"default", string(payload), j.RunAt.Unix()})
		work[fmt.Sprintf("tid-%d", i)] = string(value)
	}
	return work
}

// Write writes b as one heartbeat of the version, under the redis-namespace
// prefix ns ("" for none): the "processes" set, the process hash (replaced
// whole, with Sidekiq's 60 s TTL) and the running jobs hash.
func (v Version) Write(ctx context.Context, rdb redis.Cmdable, ns string, b Beat) error {
	_, err := v.write(ctx, rdb, ns, b, false)
	return err
}

// WriteTakingSignal writes b as Write does and, in the same transaction,
// pops "<identity>-signals" as every version from 6.4 to 8.1 does inside its
// heartbeat (Sidekiq then signals itself). It returns the signal taken, or
// "" when the list was empty.
func (v Version) WriteTakingSignal(ctx context.Context, rdb redis.Cmdable, ns string, b Beat) (string, error) {
	return v.write(ctx, rdb, ns, b, true)
}

func (v Version) write(ctx context.Context, rdb redis.Cmdable, ns string, b Beat, takeSignal bool) (string, error) {
	key := func(k string) string {
		if ns == "" {
			return k
		}
		return ns + ":" + k
	}
	id := b.Identity()
	var signal *redis.StringCmd
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key("processes"), id)
		p.Del(ctx, key(id), key(id+":"+v.WorkKey))
		p.HSet(ctx, key(id), v.Hash(b))
		p.Expire(ctx, key(id), time.Minute)
		if work := v.Work(b); len(work) > 0 {
			p.HSet(ctx, key(id+":"+v.WorkKey), work)
			p.Expire(ctx, key(id+":"+v.WorkKey), time.Minute)
		}
		if takeSignal {
			signal = p.RPop(ctx, key(id+"-signals"))
		}
		return nil
	})
	if err == redis.Nil {
		err = nil // no signal waiting
	}
	if err != nil || signal == nil {
		return "", err
	}
	return signal.Val(), nil
}

func epoch(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }
