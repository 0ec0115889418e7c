package probeserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// BenchmarkSidecarFootprint runs the real sidecar binary, built as `make
// build` builds it, next to a real redis-server and Sidekiq 6.4, and reports
// what one pod pays for it: the binary's size, its resident memory idle and
// while probed 50 times a second, and the Redis commands each probe costs.
// One op is one /livez probe, paced at 50/s (use -benchtime=500x or more).
func BenchmarkSidecarFootprint(b *testing.B) {
	p := startPod(b, podOptions{})
	p.sidekiq(testsidekiq.Options{})
	bin := buildStripped(b)
	info, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}

	base, pid := startBinary(b, bin, p)
	client := &http.Client{Timeout: 2 * time.Second}
	probe := func() {
		resp, err := client.Get(base + "/livez")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("/livez = %d", resp.StatusCode)
		}
	}
	// Idle as in a pod between two kubelet probes: started, probed once,
	// then left alone long enough for the runtime to settle.
	probe()
	time.Sleep(5 * time.Second)
	idle := testkit.StatusKiB(b, pid, "VmRSS")

	before, cpuBefore := sidecarCommands(b, p.rdb), cpuTicks(b, pid)
	tick := time.NewTicker(20 * time.Millisecond) // 50 probes/s
	defer tick.Stop()
	probes := 0
	for b.Loop() {
		<-tick.C
		probe()
		probes++
	}
	commands, ticks := sidecarCommands(b, p.rdb)-before, cpuTicks(b, pid)-cpuBefore

	b.ReportMetric(0, "ns/op") // the pacing, not a cost
	b.ReportMetric(float64(info.Size())/1e6, "binary-MB")
	b.ReportMetric(float64(idle)/1024, "idle-RSS-MiB")
	b.ReportMetric(float64(testkit.StatusKiB(b, pid, "VmRSS"))/1024, "50rps-RSS-MiB")
	b.ReportMetric(float64(testkit.StatusKiB(b, pid, "VmHWM"))/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(commands)/float64(probes), "redis-cmds/probe")
	b.ReportMetric(float64(ticks)*10/float64(probes), "cpu-ms/probe") // 100 ticks/s
}

// cpuTicks is the user and system time of pid, in clock ticks (1/100 s).
func cpuTicks(b *testing.B, pid int) int {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command, which may hold spaces, in parentheses.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, errU := strconv.Atoi(fields[11])
	stime, errS := strconv.Atoi(fields[12])
	if errU != nil || errS != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, stat)
	}
	return utime + stime
}

// buildStripped builds cmd/sidekiq-probe with the flags of `make build`.
func buildStripped(b *testing.B) string {
	dir := b.TempDir()
	bin := filepath.Join(dir, "sidekiq-probe")
	testkit.Must(b, testkit.GoBuild(bin, "./cmd/sidekiq-probe", "-ldflags=-s -w"))
	return bin
}

// startBinary runs the sidecar for p's pod on a loopback port and waits for
// its startup probe.
func startBinary(b *testing.B, bin string, p *testPod) (base string, pid int) {
	port := testkit.FreePort(b)
	cmd := exec.Command(bin, "--port="+strconv.Itoa(port), "--proc-root="+p.procDir, "--hostname="+p.hostname)
	cmd.Env = []string{"REDIS_URL=" + p.redis.URL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base = "http://127.0.0.1:" + strconv.Itoa(port)
	testkit.WaitFor(b, 10*time.Second, "the sidecar's /startupz", func() bool {
		resp, err := http.Get(base + "/startupz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, cmd.Process.Pid
}

// sidecarCommands counts, from INFO commandstats, the calls of the commands
// only the sidecar sends (Sidekiq 6.4 itself sends none of them).
func sidecarCommands(b *testing.B, rdb *redis.Client) int {
	stats, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, line := range strings.Split(stats, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_hmget" && name != "cmdstat_hlen" && name != "cmdstat_sscan") {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			b.Fatalf("commandstats %q: %v", line, err)
		}
		total += n
	}
	return total
}
