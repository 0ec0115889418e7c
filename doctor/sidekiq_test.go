package doctor_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"sidekiq-probe.io/sidekiq-probe/doctor"
)

// sidecarMetrics is what a sidecar's /metrics holds about its Sidekiq: the
// pod's max-job-seconds, then per pid whether it is embedded and its oldest
// job's age (in the sidecar's text format, metrics.go).
func sidecarMetrics(maxJob int, embedded map[int]bool, oldest map[int]float64) string {
	text := "# HELP sidekiq_probe_embedded 1 for an embedded Sidekiq.\n# TYPE sidekiq_probe_embedded gauge\n"
	for pid, e := range embedded {
		v := 0
		if e {
			v = 1
		}
		text += fmt.Sprintf("sidekiq_probe_embedded{pid=\"%d\"} %d\n", pid, v)
	}
	text += fmt.Sprintf("# HELP sidekiq_probe_max_job_seconds max-job-seconds.\n# TYPE sidekiq_probe_max_job_seconds gauge\nsidekiq_probe_max_job_seconds %d\n", maxJob)
	text += "# HELP sidekiq_probe_oldest_job_seconds Oldest job.\n# TYPE sidekiq_probe_oldest_job_seconds gauge\n"
	for pid, age := range oldest {
		text += fmt.Sprintf("sidekiq_probe_oldest_job_seconds{pid=\"%d\"} %g\n", pid, age)
	}
	return text
}

// readsEachSidecar (run by TestDoctor_OnARealAPIServer, on its API server):
// the doctor reads each running injected pod's sidecar and reports an
// embedded Sidekiq (not supported) and a job older than max-job-seconds; a
// sidecar it cannot read (here: the real API server refuses to proxy to a
// loopback pod IP) is worth a look, not a failure.
func readsEachSidecar(t *testing.T, client kubernetes.Interface) {
	tests := map[string]struct {
		metrics  string // "" reads through the API server's pod proxy
		podIP    string
		want     []want
		needsAct bool
	}{
		"a healthy sidecar is fine": {
			metrics: sidecarMetrics(60, map[int]bool{7: false}, map[int]float64{7: 12}),
			want:    []want{{doctor.CheckSidekiq, doctor.OK, "1 sidecars read"}},
		},
		"an embedded Sidekiq fails": {
			metrics: sidecarMetrics(60, map[int]bool{7: true}, nil),
			want: []want{{doctor.CheckSidekiq, doctor.Fail, "Sidekiq runs embedded in another server (pid 7)"},
				{doctor.CheckSidekiq, doctor.Fail, "run Sidekiq as its own process"}},
			needsAct: true,
		},
		"a job older than max-job-seconds is worth a look": {
			metrics: sidecarMetrics(300, map[int]bool{7: false, 8: false}, map[int]float64{7: 12, 8: 412}),
			want: []want{{doctor.CheckSidekiq, doctor.Warn, "a job in pid 8 has run 412 s, longer than max-job-seconds 300"},
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
			createPod(t, client, ns.app, sidekiqPod("worker", true, nil, 100), func(s *corev1.PodStatus) {
				s.PodIP, s.PodIPs = ip, []corev1.PodIP{{IP: ip}}
			})
			cfg, err := doctor.ParseFlags([]string{"-n", ns.app, "--webhook-namespace", ns.webhook, "--webhook-config", ns.webhook}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if tc.metrics != "" {
				cfg.ReadSidecar = func(context.Context, *corev1.Pod, int32) ([]byte, error) { return []byte(tc.metrics), nil }
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
