// Package load drives the real `sidekiq-probe-webhook serve` binary over
// TLS on loopback with concurrent admission reviews. It holds benchmarks
// only: run them with `make bench` or go test -bench.
package load

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testcert"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// BenchmarkServeTLS sends the 6 KB Rails worker review of the webhook
// benchmarks, annotated, to serve over HTTPS on one HTTP/2 connection, as
// the API server does. Bound it by count (-benchtime=20000x). It measures
// three ways, because the load generator has no cores of its own:
//
//   - shared-cores: 16 requests in flight, the server and the generator on
//     the same 2 cores. The admissions/s of both sharing them.
//   - server-one-core: the same closed loop, with the server pinned to
//     one core and the generator to the other. The server is saturated, so
//     this is what one core of serve admits per second.
//   - paced: the server on one core, the generator on the other sending at
//     a fixed rate (pacedRate) whatever the answers' pace, as pods arrive at
//     an API server; latency counts from when each request was due.
//
// The last two run again against the baseline, test/load/noopwebhook: the
// cheapest controller-runtime webhook on the same server stack.
func BenchmarkServeTLS(b *testing.B) {
	certDir := b.TempDir()
	pool := testcert.Write(b, certDir, "localhost")
	shared := startServe(b, certDir, "")
	b.Run("shared-cores", func(b *testing.B) {
		measure(b, shared, newClient(pool), func(send func() error) []time.Duration {
			return closedLoop(b, 16, send)
		})
	})
	if runtime.NumCPU() < 2 {
		b.Log("the one-core runs need 2 CPUs: one for the server, one for the load generator")
		return
	}
	for _, srv := range []struct {
		name   string
		server serveProcess
	}{
		{"", startServe(b, certDir, serverCPU)},
		{"noop-", startNoop(b, certDir, serverCPU)},
	} {
		b.Run(srv.name+"server-one-core", func(b *testing.B) {
			defer pinSelf(b, generatorCPU)()
			measure(b, srv.server, newClient(pool), func(send func() error) []time.Duration {
				return closedLoop(b, 16, send)
			})
		})
		b.Run(fmt.Sprintf("%spaced-%d-per-s-one-core", srv.name, pacedRate), func(b *testing.B) {
			defer pinSelf(b, generatorCPU)()
			measure(b, srv.server, newClient(pool), func(send func() error) []time.Duration {
				return openLoop(b, pacedRate, send)
			})
		})
	}
}

// measure runs the load against the server and reports throughput,
// latency, errors, each side's CPU per admission and the server's memory.
func measure(b *testing.B, srv serveProcess, client *http.Client, load func(send func() error) []time.Duration) {
	review := testkit.CompactBenchReview(b)
	var (
		errs     atomic.Int64
		firstErr atomic.Value
	)
	send := func() error {
		err := admit(client, srv.url, review, srv.patches)
		if err != nil {
			errs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		}
		return err
	}
	if err := send(); err != nil { // the connection, and a check of the answer
		b.Fatal(err)
	}
	serverCPU, clientCPU, syscalls := processCPU(b, srv.pid), ownCPU(b), processSyscalls(b, srv.pid)
	b.ResetTimer()
	latencies := load(send)
	b.StopTimer()
	serverCPU, clientCPU = processCPU(b, srv.pid)-serverCPU, ownCPU(b)-clientCPU
	syscalls = processSyscalls(b, srv.pid) - syscalls

	if e := errs.Load(); e > 0 {
		b.Errorf("%d of %d admissions failed, the first: %v", e, b.N, firstErr.Load())
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "admissions/s")
	b.ReportMetric(quantile(latencies, 0.50).Seconds()*1000, "p50-ms")
	b.ReportMetric(quantile(latencies, 0.99).Seconds()*1000, "p99-ms")
	b.ReportMetric(float64(errs.Load()), "errors")
	// What each side spent per admission: the server's share is what an
	// API server on other nodes would see.
	b.ReportMetric(float64(serverCPU.Microseconds())/float64(b.N), "server-cpu-us/admission")
	b.ReportMetric(float64(clientCPU.Microseconds())/float64(b.N), "client-cpu-us/admission")
	// Reads and writes: on this VM each costs several microseconds, and
	// each answer not batched with others costs its own.
	b.ReportMetric(float64(syscalls)/float64(b.N), "server-io-syscalls/admission")
	b.ReportMetric(float64(testkit.StatusKiB(b, srv.pid, "VmRSS"))/1024, "RSS-MiB")
	b.ReportMetric(float64(testkit.StatusKiB(b, srv.pid, "VmHWM"))/1024, "peak-RSS-MiB")
	// The rest of RSS is the binary's own pages (RssFile), about 23 MiB.
	b.ReportMetric(float64(testkit.StatusKiB(b, srv.pid, "RssAnon"))/1024, "anon-RSS-MiB")
}

func newClient(pool *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 16,
		},
	}
}

// admit posts one review and checks that it came back allowed, and
// patched or not as wantPatch says.
func admit(client *http.Client, url string, review []byte, wantPatch bool) error {
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
	if !out.Response.Allowed || (len(out.Response.Patch) > 0) != wantPatch {
		return fmt.Errorf("want allowed, patched %v: %.200s", wantPatch, body)
	}
	return nil
}

// serveProcess is a running server: where to post, its PID, and whether
// it patches the pod (serve) or not (the no-op baseline).
type serveProcess struct {
	url     string
	pid     int
	patches bool
}

// startServe builds and runs `sidekiq-probe-webhook serve` as `make build`
// builds it, on loopback ports, and waits until it is ready. With cpu set,
// it runs on that CPU only (taskset), and Go sizes GOMAXPROCS to it.
func startServe(b *testing.B, certDir, cpu string) serveProcess {
	srv := startServer(b, "./cmd/sidekiq-probe-webhook", cpu, func(port, health, metrics string) []string {
		return []string{"serve", "--port=" + port, "--cert-dir=" + certDir,
			"--health-addr=127.0.0.1:" + health, "--metrics-addr=127.0.0.1:" + metrics,
			"--sidecar-image=sidekiq-probe:bench", "--namespace=sidekiq-probe", "--log-level=error"}
	})
	srv.patches = true
	return srv
}

// startNoop runs the baseline, test/load/noopwebhook, as startServe runs
// serve.
func startNoop(b *testing.B, certDir, cpu string) serveProcess {
	return startServer(b, "./test/load/noopwebhook", cpu, func(port, health, _ string) []string {
		return []string{"--port=" + port, "--cert-dir=" + certDir, "--health-addr=127.0.0.1:" + health}
	})
}

// startServer builds pkg, runs it with the arguments args gives for its
// free loopback ports, and waits until its /readyz answers 200.
func startServer(b *testing.B, pkg, cpu string, args func(port, health, metrics string) []string) serveProcess {
	bin := filepath.Join(b.TempDir(), filepath.Base(pkg))
	testkit.Must(b, testkit.GoBuild(bin, pkg, "-ldflags=-s -w"))
	port, health, metrics := testkit.FreePort(b), testkit.FreePort(b), testkit.FreePort(b)
	argv := append([]string{bin}, args(strconv.Itoa(port), strconv.Itoa(health), strconv.Itoa(metrics))...)
	if cpu != "" {
		argv = append([]string{"taskset", "--cpu-list", cpu}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var logs testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if b.Failed() {
			b.Logf("%s's log:\n%s", pkg, logs.String())
		}
	})
	ready := "http://127.0.0.1:" + strconv.Itoa(health) + "/readyz"
	testkit.WaitUntil(b, 20*time.Second, pkg+" to be ready", func() error {
		resp, err := http.Get(ready)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz answered %d", resp.StatusCode)
		}
		return nil
	})
	// taskset execs the server: the PID is the server's own.
	return serveProcess{url: "https://127.0.0.1:" + strconv.Itoa(port) + "/mutate-v1-pod", pid: cmd.Process.Pid}
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

// processSyscalls is how many read and write system calls process pid
// has made (syscr + syscw of /proc/PID/io).
func processSyscalls(b *testing.B, pid int) int64 {
	io, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(string(io), "\n") {
		name, value, _ := strings.Cut(line, ": ")
		if name == "syscr" || name == "syscw" {
			v, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/io: %q: %v", pid, line, err)
			}
			n += v
		}
	}
	return n
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
