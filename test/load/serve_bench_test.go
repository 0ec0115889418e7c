// Package load drives the real `sidekiq-probe-webhook serve` binary over
// TLS on loopback with concurrent admission reviews. It holds benchmarks
// only: run them with `make bench` or go test -bench.
package load

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/test/testcert"
)

// BenchmarkServeTLS sends the 6 KB Rails worker review of the webhook
// benchmarks, annotated, to serve over HTTPS from 16 goroutines on a few
// keep-alive connections, as the API server does. Bound it by count
// (-benchtime=20000x) or time (-benchtime=10s). The load generator shares
// the machine's cores with the server.
func BenchmarkServeTLS(b *testing.B) {
	root := testkit.RepoRoot(b)
	indented, err := os.ReadFile(filepath.Join(root, "webhook/testdata/bench/rails-worker.review.json"))
	if err != nil {
		b.Fatal(err)
	}
	var compact bytes.Buffer // as the API server sends it: 6.5 KB, not 8.3
	if err := json.Compact(&compact, indented); err != nil {
		b.Fatal(err)
	}
	review := compact.Bytes()
	certDir := b.TempDir()
	pool := testcert.Write(b, certDir, "localhost")
	url, pid := startServe(b, certDir)
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
		},
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		firstErr  atomic.Value
	)
	b.SetParallelism(8) // 16 goroutines on 2 cores
	serverCPU, clientCPU := processCPU(b, pid), ownCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if err := admit(client, url, review); err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				continue
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	serverCPU, clientCPU = processCPU(b, pid)-serverCPU, ownCPU(b)-clientCPU

	if e := errs.Load(); e > 0 {
		b.Errorf("%d of %d admissions failed, the first: %v", e, b.N, firstErr.Load())
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "admissions/s")
	b.ReportMetric(quantile(latencies, 0.50).Seconds()*1000, "p50-ms")
	b.ReportMetric(quantile(latencies, 0.99).Seconds()*1000, "p99-ms")
	b.ReportMetric(float64(errs.Load()), "errors")
	// What each side spent per admission on the shared cores: the server's
	// share is what an API server on other nodes would see.
	b.ReportMetric(float64(serverCPU.Microseconds())/float64(b.N), "server-cpu-us/admission")
	b.ReportMetric(float64(clientCPU.Microseconds())/float64(b.N), "client-cpu-us/admission")
	b.ReportMetric(float64(testkit.StatusKiB(b, pid, "VmRSS"))/1024, "RSS-MiB")
	b.ReportMetric(float64(testkit.StatusKiB(b, pid, "VmHWM"))/1024, "peak-RSS-MiB")
	// The rest of RSS is the binary's own pages (RssFile), about 23 MiB.
	b.ReportMetric(float64(testkit.StatusKiB(b, pid, "RssAnon"))/1024, "anon-RSS-MiB")
}

// admit posts one review and checks that it came back allowed and patched.
func admit(client *http.Client, url string, review []byte) error {
	resp, err := client.Post(url, "application/json", bytes.NewReader(review))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	// Only what is checked is decoded: the client shares the cores with
	// the server, and each of its microseconds is one the server lacks.
	var out struct {
		Response *struct {
			Allowed bool   `json:"allowed"`
			Patch   []byte `json:"patch"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK || out.Response == nil {
		return fmt.Errorf("status %d, body %.200s", resp.StatusCode, body)
	}
	if !out.Response.Allowed || len(out.Response.Patch) == 0 {
		return fmt.Errorf("not patched: %.200s", body)
	}
	return nil
}

// startServe builds and runs `sidekiq-probe-webhook serve` as `make build`
// builds it, on loopback ports, and waits until it is ready.
func startServe(b *testing.B, certDir string) (url string, pid int) {
	bin := filepath.Join(b.TempDir(), "sidekiq-probe-webhook")
	testkit.Must(b, testkit.GoBuild(bin, "./cmd/sidekiq-probe-webhook", "-ldflags=-s -w"))
	port, health, metrics := testkit.FreePort(b), testkit.FreePort(b), testkit.FreePort(b)
	cmd := exec.Command(bin, "serve", "--port="+strconv.Itoa(port), "--cert-dir="+certDir,
		"--health-addr=127.0.0.1:"+strconv.Itoa(health), "--metrics-addr=127.0.0.1:"+strconv.Itoa(metrics),
		"--sidecar-image=sidekiq-probe:bench", "--namespace=sidekiq-probe", "--log-level=error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := "http://127.0.0.1:" + strconv.Itoa(health) + "/readyz"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve not ready after 20s; log:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "https://127.0.0.1:" + strconv.Itoa(port) + "/mutate-v1-pod", cmd.Process.Pid
}

// processCPU is the CPU time process pid has used: utime + stime from
// /proc/PID/stat, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
func processCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// The command (field 2) may hold spaces: count from the ')' closing it,
	// after which comes field 3; utime and stime are fields 14 and 15.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			b.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// ownCPU is the CPU time of this process: the load generator.
func ownCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
