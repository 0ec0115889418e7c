package probeserver

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Heartbeat is what one Sidekiq process last wrote about itself.
type Heartbeat struct {
	Beat      time.Time // when it was written, by Sidekiq's clock (same node)
	StartedAt time.Time // when Sidekiq started, from info.started_at
	Busy      int       // jobs running at that beat
	// Concurrency is the process's threads as it states them: info's
	// concurrency (up to 8.0), else the hash field (8.1), else the sum of
	// its capsules.
	Concurrency int
	// Capsules are threads per capsule, from info (8.0 on); nil before.
	Capsules map[string]int
	Quiet    bool
	// Embedded: Sidekiq runs inside another server (configure_embed, 7+),
	// which ignores both the quiet signal and the signals list.
	Embedded bool
	Version  string // "" before Sidekiq 7, which did not write it
}

// maxCapsules bounds the capsules kept per process: the info JSON is Redis
// data, and each capsule becomes a series on /metrics.
const (
	maxCapsules    = 32
	maxCapsuleName = 64
)

// heartbeatInfo is the part of the "info" JSON we use. 6.4 to 7.3 write
// concurrency; 7 adds version and embedded; 8.0 adds capsules; 8.1 moves
// concurrency out of info into a hash field of its own.
type heartbeatInfo struct {
	StartedAt   float64 `json:"started_at"`
	PID         int     `json:"pid"`
	Concurrency int     `json:"concurrency"`
	Version     string  `json:"version"`
	Embedded    bool    `json:"embedded"`
	Capsules    map[string]struct {
		Concurrency int `json:"concurrency"`
	} `json:"capsules"`
}

// heartbeatFields are the fields of a process hash that parseHeartbeat reads,
// fetched by HMGET: never the whole hash, which anyone who may write to Redis
// can pad (200k fields made HGETALL miss every probe's deadline).
var heartbeatFields = []string{"info", "beat", "busy", "quiet", "concurrency"}

// fieldsOf pairs an HMGET reply of heartbeatFields with their names, leaving
// out the missing ones.
func fieldsOf(values []any) map[string]string {
	h := make(map[string]string, len(heartbeatFields))
	for i, v := range values {
		if s, ok := v.(string); ok && i < len(heartbeatFields) {
			h[heartbeatFields[i]] = s
		}
	}
	return h
}

// parseHeartbeat reads the fields of a process hash (heartbeatFields). An
// empty hash means there is none: it expired or was never written.
func parseHeartbeat(h map[string]string) (*Heartbeat, error) {
	if len(h) == 0 {
		return nil, nil
	}
	var info heartbeatInfo
	if err := json.Unmarshal([]byte(h["info"]), &info); err != nil {
		return nil, fmt.Errorf("heartbeat info: %w", err)
	}
	beat, err := strconv.ParseFloat(h["beat"], 64)
	if err != nil {
		return nil, fmt.Errorf("heartbeat beat %q: %w", h["beat"], err)
	}
	hb := &Heartbeat{
		Beat:        epoch(beat),
		StartedAt:   epoch(info.StartedAt),
		Quiet:       h["quiet"] == "true",
		Version:     info.Version,
		Concurrency: info.Concurrency,
	}
	if hb.Busy, err = strconv.Atoi(h["busy"]); err != nil {
		return nil, fmt.Errorf("heartbeat busy %q: %w", h["busy"], err)
	}
	if c, err := strconv.Atoi(h["concurrency"]); err == nil && hb.Concurrency == 0 {
		hb.Concurrency = c // Sidekiq 8.1
	}
	hb.Embedded = info.Embedded
	for name, c := range info.Capsules {
		if len(hb.Capsules) == maxCapsules || len(name) > maxCapsuleName {
			continue
		}
		if hb.Capsules == nil {
			hb.Capsules = map[string]int{}
		}
		hb.Capsules[name] = c.Concurrency
	}
	if hb.Concurrency == 0 {
		for _, c := range hb.Capsules {
			hb.Concurrency += c
		}
	}
	return hb, nil
}

func epoch(secs float64) time.Time {
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9))
}
