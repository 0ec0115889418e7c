package probeserver

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// Debian ships only Sidekiq 6.4, so these tests write the hashes Sidekiq 7
// and 8 write into real Redis, for a stand-in process that carries Sidekiq's
// title (sleep with argv[0] set to it).

func standIn(t testing.TB, p *testPod, title string) int {
	t.Helper()
	cmd := &exec.Cmd{Path: "/bin/sleep", Args: []string{title, "600"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	testsidekiq.AddToPodProc(t, p.procDir, cmd.Process.Pid)
	return cmd.Process.Pid
}

// writeBeat writes one heartbeat the way Sidekiq does, with info JSON and
// extra fields as given, and its running jobs in workKey.
func writeBeat(ctx context.Context, rdb *redis.Client, ns, id, info string, fields map[string]any, workKey string, jobs int) error {
	key := func(k string) string {
		if ns == "" {
			return k
		}
		return ns + ":" + k
	}
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key("processes"), id)
		f := map[string]any{"info": info, "busy": jobs, "beat": fmt.Sprintf("%f", float64(time.Now().UnixNano())/1e9), "quiet": "false", "rss": 51200, "rtt_us": 90}
		for k, v := range fields {
			f[k] = v
		}
		p.HSet(ctx, key(id), f)
		p.Expire(ctx, key(id), time.Minute)
		p.Del(ctx, key(id+":"+workKey))
		for i := range jobs {
			p.HSet(ctx, key(id+":"+workKey), fmt.Sprintf("tid%d", i), `{"queue":"default","payload":"{}","run_at":1}`)
		}
		return nil
	})
	return err
}

func TestRealRedis_Sidekiq7And8Shapes(t *testing.T) {
	tests := map[string]struct {
		version   string
		namespace string
		info      string // %d: pid, %f: started_at
		fields    map[string]any
		workKey   string
		wantConc  string
	}{
		"Sidekiq 7.3 with capsules and :work": {
			version: "7.3.10", workKey: "work", wantConc: "5",
			info: `{"hostname":"h","started_at":%f,"pid":%d,"tag":"app","concurrency":5,"queues":["default"],"labels":[],"version":"7.3.10","embedded":false,"capsules":{"default":{"concurrency":5,"mode":"strict","weights":{"default":0}}}}`,
		},
		"Sidekiq 8.1.2 with its own concurrency field": {
			version: "8.1.2", workKey: "work", wantConc: "8", fields: map[string]any{"concurrency": 8},
			info: `{"hostname":"h","started_at":%f,"pid":%d,"tag":"app","queues":["default"],"labels":[],"version":"8.1.2","embedded":false,"capsules":{"default":{"mode":"strict","weights":{"default":0}}}}`,
		},
		"Sidekiq 6.4 under a redis-namespace prefix": {
			version: "6.4.1", namespace: "myapp", workKey: "workers", wantConc: "3",
			info: `{"hostname":"h","started_at":%f,"pid":%d,"tag":"app","concurrency":3,"queues":["default"],"labels":[]}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := startPod(t, podOptions{namespace: tc.namespace})
			pid := standIn(t, p, "sidekiq "+tc.version+" app [2 of 5 busy]")
			id := fmt.Sprintf("%s:%d:0123456789ab", p.hostname, pid)
			info := fmt.Sprintf(tc.info, float64(time.Now().Unix()), pid)
			if err := writeBeat(p.ctx(), p.rdb, tc.namespace, id, info, tc.fields, tc.workKey, 2); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/startupz", "/livez", "/readyz"} {
				if a := p.get(path); a.code != http.StatusOK {
					t.Errorf("%s = %d %+v", path, a.code, a.verdict)
				}
			}
			metrics := p.getText("/metrics")
			for _, want := range []string{
				fmt.Sprintf(`sidekiq_probe_concurrency{pid="%d"} %s`, pid, tc.wantConc),
				fmt.Sprintf(`sidekiq_probe_busy_jobs{pid="%d"} 2`, pid),
			} {
				if !contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

// A stale identity of an earlier process with the same hostname and pid (a
// restarted pod with a stable name) must not stand in for the live process.
func TestRealRedis_ReusedPidIgnoresTheOlderProcessHash(t *testing.T) {
	t.Parallel()
	p := startPod(t, podOptions{})
	pid := standIn(t, p, "sidekiq 6.4.1 app [0 of 5 busy]")
	id := fmt.Sprintf("%s:%d:0ld0ld0ld0ld", p.hostname, pid)
	info := fmt.Sprintf(`{"hostname":"h","started_at":%d,"pid":%d,"concurrency":5}`, time.Now().Add(-time.Hour).Unix(), pid)
	if err := writeBeat(p.ctx(), p.rdb, "", id, info, nil, "workers", 0); err != nil {
		t.Fatal(err)
	}
	if a := p.get("/startupz"); a.code != http.StatusServiceUnavailable || a.verdict.Reason != "no heartbeat yet" {
		t.Errorf("/startupz = %d %+v, want 503: the only hash predates the process", a.code, a.verdict)
	}
}
