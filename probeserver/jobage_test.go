package probeserver

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// oldestJob reads sidekiq_probe_oldest_job_seconds of pid from /metrics.
func (p *testPod) oldestJob(pid int) (float64, bool) {
	p.t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^sidekiq_probe_oldest_job_seconds\{pid="%d"\} (\S+)$`, pid))
	m := re.FindStringSubmatch(p.getText("/metrics"))
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		p.t.Fatal(err)
	}
	return v, true
}

// The oldest running job's age is read from every version's work hash,
// whatever its payload holds: a payload of 1 MB, or one whose arguments
// spell "run_at" themselves.
func TestRealRedis_OldestJobOfEveryVersion(t *testing.T) {
	for _, v := range testsidekiq.Versions {
		t.Run("Sidekiq "+v.Name, func(t *testing.T) {
			t.Parallel()
			p := startPod(t, podOptions{})
			b := p.fakeSidekiq(v, "app")
			now := time.Now()
			b.Jobs = []testsidekiq.Job{
				{Class: "Recent", RunAt: now.Add(-30 * time.Second)},
				{Class: `Big","args":["` + strings.Repeat("x", 1<<20), RunAt: now.Add(-20 * time.Second)},
				{Class: `Tricky","run_at":1`, RunAt: now.Add(-90 * time.Second)},
			}
			p.write(v, "", b)
			idle := p.fakeSidekiq(v, "idle")
			p.write(v, "", idle)
			if a := p.get("/startupz"); a.code != http.StatusOK {
				t.Fatalf("/startupz = %d %+v", a.code, a.verdict)
			}
			age, ok := p.oldestJob(b.PID)
			if !ok || age < 89 || age > 120 {
				t.Errorf("oldest job = %v (found %v), want about 90 s", age, ok)
			}
			if age, ok := p.oldestJob(idle.PID); ok {
				t.Errorf("a process running no job has an oldest job of %v s", age)
			}
		})
	}
}

// A work hash is Redis data, not ours: one far larger than any Sidekiq's is
// left out at the cost of its HLEN, and an entry over 16 KiB is never read.
func TestRealRedis_OldestJobReadIsBounded(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	v := testsidekiq.Sidekiq73
	huge, big := p.fakeSidekiq(v, "huge"), p.fakeSidekiq(v, "big")
	big.Jobs = []testsidekiq.Job{{Class: strings.Repeat("x", maxJobBytes), RunAt: time.Now().Add(-time.Hour)}, {Class: "A", RunAt: time.Now().Add(-time.Minute)}}
	p.write(v, "", huge)
	p.write(v, "", big)
	pipe := p.rdb.Pipeline()
	for i := range 20000 {
		pipe.HSet(p.ctx(), huge.Identity()+":work", fmt.Sprintf("tid-%d", i), fmt.Sprintf(`{"queue":"q","payload":"{}","run_at":%d}`, time.Now().Unix()-60))
	}
	_, err := pipe.Exec(p.ctx())
	testkit.Must(t, err)
	p.get("/startupz")
	testkit.Must(t, p.rdb.ConfigResetStat(p.ctx()).Err())
	if age, ok := p.oldestJob(huge.PID); ok {
		t.Errorf("a hash of 20,000 entries gave an oldest job of %v s, want it left out", age)
	}
	if age, ok := p.oldestJob(big.PID); !ok || age < 59 || age > 120 {
		t.Errorf("oldest job = %v (found %v), want the 1 minute old one: the hour old one is over 16 KiB", age, ok)
	}
	stats := commandStats(t, p)
	if stats["hget"] > 4 || stats["hscan"]+stats["hgetall"]+stats["hvals"] != 0 {
		t.Errorf("two scrapes ran %v; want at most two HGETs each, nothing that reads a whole hash", stats)
	}
}

// Probes never read job ages: only /metrics does, with one script call.
func TestRealRedis_ProbesDoNotReadJobAges(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	b := p.fakeSidekiq(testsidekiq.Sidekiq81, "app")
	b.Jobs = []testsidekiq.Job{{Class: "A", RunAt: time.Now()}}
	p.write(testsidekiq.Sidekiq81, "", b)
	p.get("/startupz")
	testkit.Must(t, p.rdb.ConfigResetStat(p.ctx()).Err())
	for _, path := range []string{"/startupz", "/livez", "/readyz"} {
		p.get(path)
	}
	if stats := commandStats(t, p); stats["eval"]+stats["evalsha"]+stats["hkeys"]+stats["hget"] != 0 {
		t.Errorf("probes ran %v, want no job age read", stats)
	}
	p.getText("/metrics")
	if stats := commandStats(t, p); stats["eval"]+stats["evalsha"] == 0 || stats["hkeys"] != 2 {
		t.Errorf("a scrape ran %v, want the job age script", stats)
	}
}

// commandStats reads INFO commandstats of the pod's Redis: calls by
// command, the assertions' own INFO left out.
func commandStats(t *testing.T, p *testPod) map[string]int {
	t.Helper()
	info, err := p.rdb.Info(p.ctx(), "commandstats").Result()
	testkit.Must(t, err)
	stats := map[string]int{}
	for _, m := range regexp.MustCompile(`cmdstat_([a-z|]+):calls=(\d+)`).FindAllStringSubmatch(info, -1) {
		n, _ := strconv.Atoi(m[2])
		stats[m[1]] = n
	}
	delete(stats, "info")
	delete(stats, "config|resetstat")
	return stats
}

// Real Sidekiq 6.4.1 writes :workers in the shape the script reads.
func TestRealSidekiq_OldestJobAge(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	sk := p.sidekiq(testsidekiq.Options{})
	testkit.Must(t, testsidekiq.Enqueue(p.ctx(), p.rdb, 30, "long"))
	testkit.WaitFor(t, 10*time.Second, "the job to start", func() bool { return len(testsidekiq.Started(p.ctx(), p.rdb)) == 1 })
	started := time.Now()
	p.get("/startupz")
	var age float64
	testkit.WaitFor(t, 15*time.Second, "an oldest job on /metrics (written at the next heartbeat)", func() bool {
		var ok bool
		age, ok = p.oldestJob(sk.PID)
		return ok
	})
	if limit := time.Since(started).Seconds() + 2; age < 0 || age > limit {
		t.Errorf("oldest job %v s, want 0..%v", age, limit)
	}
}
