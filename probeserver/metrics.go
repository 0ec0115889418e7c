package probeserver

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics are the sidecar's Prometheus series, held by the server (no
// globals) and written in the text exposition format by hand: the sidecar
// runs in every Sidekiq pod, and client_golang with its protobuf
// dependencies was a fifth of the binary, whose pages are most of the
// sidecar's resident memory (docs/performance.md). Per-process series are
// labelled by pid: a pod has few processes and the identity is unknown
// before the first heartbeat.
type metrics struct {
	started time.Time
	maxJob  float64 // max-job-seconds, for the alert on old jobs
	// jobAges reads the age of each process's oldest running job, by pid,
	// at each scrape (never on probes: it costs Redis a script call); nil
	// in tests of the exposition alone.
	jobAges func(context.Context) map[int]float64

	mu        sync.Mutex
	processes map[int]processSeries // by pid
	redisUp   float64
	rtt       histogram
	results   map[[2]string]uint64 // by probe, result
	refusals  map[string]uint64    // refused /prestop calls by reason
}

// processSeries are one Sidekiq process's gauges; nil when unknown.
type processSeries struct {
	age, busy, concurrency, quiet, embedded *float64
	capsules                                map[string]int // threads by capsule (8.0+)
}

// histogram is a Prometheus histogram with fixed buckets.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

func newMetrics(maxJob time.Duration, jobAges func(context.Context) map[int]float64) *metrics {
	bounds := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5}
	return &metrics{
		started:   time.Now(),
		maxJob:    maxJob.Seconds(),
		jobAges:   jobAges,
		processes: map[int]processSeries{},
		rtt:       histogram{bounds: bounds, counts: make([]uint64, len(bounds))},
		results:   map[[2]string]uint64{},
		refusals:  map[string]uint64{"missing token": 0, "wrong token": 0},
	}
}

func (m *metrics) observe(s Snapshot, h History) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.redisUp = 0
	if s.RedisErr != nil {
		return // keep the last per-process values: they are what we last knew
	}
	m.redisUp = 1
	m.rtt.observe(s.RTT.Seconds())
	clear(m.processes) // drop processes that are gone
	for _, p := range s.Processes {
		var ps processSeries
		if beat, ok := h.LastBeat[p.Identity]; ok {
			ps.age = ptrTo(s.At.Sub(beat).Seconds())
		}
		if p.Heartbeat != nil {
			ps.busy = ptrTo(float64(p.Jobs))
			ps.concurrency = ptrTo(float64(p.Heartbeat.Concurrency))
			ps.embedded = ptrTo(0.0)
			ps.capsules = p.Heartbeat.Capsules
			ps.quiet = ptrTo(0.0)
			if p.Heartbeat.Quiet {
				*ps.quiet = 1
			}
		}
		m.processes[p.PID] = ps
	}
	for _, p := range s.Embedded {
		m.processes[p.PID] = processSeries{embedded: ptrTo(1.0)}
	}
}

func (m *metrics) result(probe string, v Verdict) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.results[[2]string{probe, v.Status}]++
}

func (m *metrics) refused(reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.refusals[reason]++
}

func (h *histogram) observe(v float64) {
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
	h.sum += v
	h.count++
}

// ServeHTTP writes every series in the text exposition format 0.0.4.
func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var jobAges map[int]float64
	if m.jobAges != nil {
		jobAges = m.jobAges(r.Context())
	}
	var b bytes.Buffer
	m.write(&b, jobAges)
	writeProcess(&b, m.started)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// family is a metric's name, help and type, written before its samples.
type family struct{ Name, Help, Type string }

func (f family) header(b *bytes.Buffer) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", f.Name, f.Help, f.Name, f.Type)
}

func (m *metrics) write(b *bytes.Buffer, jobAges map[int]float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pids := slices.Sorted(maps.Keys(m.processes))
	perProcess := func(f family, value func(processSeries) *float64) {
		f.header(b)
		for _, pid := range pids {
			if v := value(m.processes[pid]); v != nil {
				sample(b, f.Name, fmt.Sprintf(`pid="%d"`, pid), *v)
			}
		}
	}
	perProcess(family{Name: "sidekiq_probe_busy_jobs", Type: "gauge",
		Help: "Jobs running in each Sidekiq process at its last heartbeat."},
		func(p processSeries) *float64 { return p.busy })
	m.writeCapsules(b, pids)
	perProcess(family{Name: "sidekiq_probe_concurrency", Type: "gauge",
		Help: "Threads of each Sidekiq process, as its heartbeat states them."},
		func(p processSeries) *float64 { return p.concurrency })
	perProcess(family{Name: "sidekiq_probe_embedded", Type: "gauge",
		Help: "1 for a Sidekiq embedded in another server (pid of the server): not supported, never quieted nor drained."},
		func(p processSeries) *float64 { return p.embedded })
	perProcess(family{Name: "sidekiq_probe_heartbeat_age_seconds", Type: "gauge",
		Help: "Age of the newest heartbeat of each Sidekiq process."},
		func(p processSeries) *float64 { return p.age })

	maxJob := family{Name: "sidekiq_probe_max_job_seconds", Type: "gauge",
		Help: "The pod's max-job-seconds: the longest a running job may take and still finish at a rollout."}
	maxJob.header(b)
	sample(b, maxJob.Name, "", m.maxJob)
	oldest := family{Name: "sidekiq_probe_oldest_job_seconds", Type: "gauge",
		Help: "Age of the oldest job running in each Sidekiq process, read at each scrape from its work hash."}
	oldest.header(b)
	for _, pid := range slices.Sorted(maps.Keys(jobAges)) {
		sample(b, oldest.Name, fmt.Sprintf(`pid="%d"`, pid), jobAges[pid])
	}

	m.writeCounters(b)

	perProcess(family{Name: "sidekiq_probe_quiet", Type: "gauge",
		Help: "1 when the Sidekiq process reported itself quiet."},
		func(p processSeries) *float64 { return p.quiet })

	m.writeRoundTrips(b)

	up := family{Name: "sidekiq_probe_redis_up", Type: "gauge",
		Help: "1 when Redis answered the last look in time."}
	up.header(b)
	sample(b, up.Name, "", m.redisUp)
}

// The write steps below run with m.mu held, in write's alphabetical order.

func (m *metrics) writeCapsules(b *bytes.Buffer, pids []int) {
	capsules := family{Name: "sidekiq_probe_capsule_concurrency", Type: "gauge",
		Help: "Threads of each capsule of each Sidekiq process (Sidekiq 8), as its heartbeat states them."}
	capsules.header(b)
	for _, pid := range pids {
		caps := m.processes[pid].capsules
		for _, name := range slices.Sorted(maps.Keys(caps)) {
			sample(b, capsules.Name, fmt.Sprintf(`capsule="%s",pid="%d"`, labelValue(name), pid), float64(caps[name]))
		}
	}
}

// writeCounters writes the probe results and the /prestop refusals.
func (m *metrics) writeCounters(b *bytes.Buffer) {
	results := family{Name: "sidekiq_probe_probe_results_total", Type: "counter",
		Help: "Probe answers by probe and result."}
	results.header(b)
	for _, k := range slices.SortedFunc(maps.Keys(m.results), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	}) {
		sample(b, results.Name, fmt.Sprintf(`probe=%q,result=%q`, k[0], k[1]), float64(m.results[k]))
	}

	refused := family{Name: "sidekiq_probe_prestop_refused_total", Type: "counter",
		Help: "/prestop calls refused (403) for a missing or wrong token, by reason."}
	refused.header(b)
	for _, reason := range slices.Sorted(maps.Keys(m.refusals)) {
		sample(b, refused.Name, fmt.Sprintf(`reason=%q`, reason), float64(m.refusals[reason]))
	}
}

func (m *metrics) writeRoundTrips(b *bytes.Buffer) {
	rtt := family{Name: "sidekiq_probe_redis_round_trip_seconds", Type: "histogram",
		Help: "Time of the pipelined Redis read behind each probe."}
	rtt.header(b)
	var cumulative uint64
	for i, bound := range m.rtt.bounds {
		cumulative += m.rtt.counts[i]
		sample(b, rtt.Name+"_bucket", `le="`+formatFloat(bound)+`"`, float64(cumulative))
	}
	sample(b, rtt.Name+"_bucket", `le="+Inf"`, float64(m.rtt.count))
	sample(b, rtt.Name+"_sum", "", m.rtt.sum)
	sample(b, rtt.Name+"_count", "", float64(m.rtt.count))
}

// writeProcess writes the usual process_* series of the sidecar itself, from
// /proc/self; a series that cannot be read is left out.
func writeProcess(b *bytes.Buffer, started time.Time) {
	if cpu, rss, ok := selfStat(); ok {
		family{Name: "process_cpu_seconds_total", Type: "counter", Help: "Total user and system CPU time spent in seconds."}.header(b)
		sample(b, "process_cpu_seconds_total", "", cpu)
		family{Name: "process_resident_memory_bytes", Type: "gauge", Help: "Resident memory size in bytes."}.header(b)
		sample(b, "process_resident_memory_bytes", "", rss)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		family{Name: "process_open_fds", Type: "gauge", Help: "Number of open file descriptors."}.header(b)
		sample(b, "process_open_fds", "", float64(len(fds)))
	}
	family{Name: "process_start_time_seconds", Type: "gauge", Help: "Start time of the process since unix epoch in seconds."}.header(b)
	sample(b, "process_start_time_seconds", "", float64(started.UnixNano())/1e9)
}

// selfStat reads CPU seconds and resident bytes from /proc/self/stat.
func selfStat() (cpu, rss float64, ok bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, false
	}
	// Fields after the command, which may hold spaces, in parentheses:
	// utime and stime (clock ticks, 100 a second on Linux) are the 12th and
	// 13th, rss (pages) the 22nd.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 22 {
		return 0, 0, false
	}
	utime, errU := strconv.ParseFloat(fields[11], 64)
	stime, errS := strconv.ParseFloat(fields[12], 64)
	pages, errR := strconv.ParseFloat(fields[21], 64)
	if errU != nil || errS != nil || errR != nil {
		return 0, 0, false
	}
	return (utime + stime) / 100, pages * float64(os.Getpagesize()), true
}

func sample(b *bytes.Buffer, name, labels string, v float64) {
	b.WriteString(name)
	if labels != "" {
		b.WriteString("{" + labels + "}")
	}
	b.WriteString(" " + formatFloat(v) + "\n")
}

// formatFloat writes a value as Prometheus does: shortest form, and +Inf,
// -Inf, NaN spelled its way.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func ptrTo(v float64) *float64 { return &v }

// labelValue escapes a label value read from Redis (a capsule's name) as
// the text format wants it.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
