package doctor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/doctor"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

// sidecar runs the real sidecar binary over real Redis for a pod named
// "worker" whose /proc holds one stand-in titled title, whose heartbeat
// (Sidekiq 7.3's fixture) says embedded or runs a job started jobAgo ago,
// and returns its /metrics as the doctor reads it.
func sidecar(t *testing.T, bin, title string, embedded bool, jobAgo time.Duration) func(context.Context, *corev1.Pod, int32) ([]byte, error) {
	r := testsidekiq.StartRedis(t)
	dir := testsidekiq.PodProc(t)
	beat := testsidekiq.Beat{Hostname: "worker", PID: testsidekiq.StandIn(t, dir, title), StartedAt: time.Now(), Embedded: embedded}
	if jobAgo > 0 {
		beat.Jobs = []testsidekiq.Job{{Class: "Report", RunAt: time.Now().Add(-jobAgo)}}
	}
	rdb := r.Client()
	defer rdb.Close()
	testkit.Must(t, testsidekiq.Sidekiq73.Write(context.Background(), rdb, "", beat))
	probe := testsidekiq.StartProbe(t, bin, []string{}, "--redis-url="+r.URL, "--hostname=worker", "--proc-root="+dir, "--max-job-seconds=300")
	if code, body, err := probe.Get("/startupz", nil); err != nil || code != http.StatusOK {
		t.Fatalf("/startupz = %d %s %v", code, body, err)
	}
	return func(context.Context, *corev1.Pod, int32) ([]byte, error) {
		_, body, err := probe.Get("/metrics", nil)
		return []byte(body), err
	}
}

// readsEachSidecar (run by TestDoctor_OnARealAPIServer, on its API server):
// the doctor reads each running injected pod's sidecar and reports an
// embedded Sidekiq (not supported) and a job older than max-job-seconds; a
// sidecar it cannot read (here: the real API server refuses to proxy to a
// loopback pod IP) is worth a look, not a failure.
func readsEachSidecar(t *testing.T, client kubernetes.Interface) {
	bin := testsidekiq.BuildProbe(t)
	sidekiq := "sidekiq 7.3.10 app [1 of 5 busy]"
	tests := map[string]struct {
		title    string
		embedded bool
		jobAgo   time.Duration
		podIP    string // 127.0.0.1: read through the API server's pod proxy
		want     []want
		needsAct bool
	}{
		"a healthy sidecar is fine": {
			title: sidekiq, jobAgo: 12 * time.Second,
			want: []want{{doctor.CheckSidekiq, doctor.OK, "1 sidecars read"}},
		},
		"an embedded Sidekiq fails": {
			title: "puma 6.4.2 (tcp://0.0.0.0:3000) [app]", embedded: true,
			want: []want{{doctor.CheckSidekiq, doctor.Fail, "Sidekiq runs embedded in another server"},
				{doctor.CheckSidekiq, doctor.Fail, "run Sidekiq as its own process"}},
			needsAct: true,
		},
		"a job older than max-job-seconds is worth a look": {
			title: sidekiq, jobAgo: 412 * time.Second,
			want: []want{{doctor.CheckSidekiq, doctor.Warn, "longer than max-job-seconds 300"},
				{doctor.CheckSidekiq, doctor.Warn, "raise sidekiq-probe.io/max-job-seconds"}},
		},
		"a sidecar the API server cannot reach is worth a look": {
			podIP: "127.0.0.1",
			want:  []want{{doctor.CheckSidekiq, doctor.Warn, "cannot read the sidecar's /metrics"}},
		},
	}
	n := 0
	for name, tc := range tests {
		n++
		t.Run(name, func(t *testing.T) {
			ns := names{webhook: fmt.Sprintf("sidecar-webhook-%d", n), app: fmt.Sprintf("sidecar-app-%d", n)}
			install(t, client, ns.webhook)
			createNamespace(t, client, ns.app, true)
			ip := tc.podIP
			if ip == "" {
				ip = "192.0.2.10"
			}
			createPod(t, client, ns.app, testkit.SidekiqPod(askedForInjection, testkit.Named("worker"), enoughGrace, injected), func(s *corev1.PodStatus) {
				s.PodIP, s.PodIPs = ip, []corev1.PodIP{{IP: ip}}
			})
			cfg, err := doctor.ParseFlags([]string{"-n", ns.app, "--webhook-namespace", ns.webhook, "--webhook-config", ns.webhook}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if tc.title != "" {
				cfg.ReadSidecar = sidecar(t, bin, tc.title, tc.embedded, tc.jobAgo)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			findings := doctor.Run(ctx, client, cfg, time.Now())
			var sidekiq []doctor.Finding
			for _, f := range findings {
				if f.Check == doctor.CheckSidekiq {
					sidekiq = append(sidekiq, f)
				}
			}
			assertFindings(t, sidekiq, tc.want)
			if got := doctor.NeedsAction(findings); got != tc.needsAct {
				t.Errorf("needs action = %v, want %v:\n%s", got, tc.needsAct, dump(findings))
			}
		})
	}
}
