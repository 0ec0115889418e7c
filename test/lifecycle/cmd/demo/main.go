// Command demo is `make demo`: a real node on this machine, the chart, an
// annotated Sidekiq worker, its injected pod and live probe answers, then a
// rollout with jobs in flight and the summary line. It cleans up after
// itself; `demo down` (make demo-down) cleans up after an interrupted run.
//
//	go run ./test/lifecycle/cmd/demo [up]
//	go run ./test/lifecycle/cmd/demo down
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/test/cluster"
	"sidekiq-probe.io/sidekiq-probe/test/lifecycle"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	root, err := cluster.RepoRoot()
	if err != nil {
		return err
	}
	state := filepath.Join(root, "bin", "demo")
	switch {
	case len(args) == 0 || args[0] == "up":
		return demo(ctx, state, out)
	case args[0] == "down":
		return errors.Join(lifecycle.StopRedisIn(filepath.Join(state, "redis")),
			cluster.Down(ctx, cluster.Options{StateDir: state}))
	default:
		return errors.New("usage: demo [up|down]")
	}
}

func demo(ctx context.Context, state string, out io.Writer) (err error) {
	say := func(format string, args ...any) { fmt.Fprintf(out, "\n==> "+format+"\n", args...) }
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	say("starting a single-node cluster on this machine (kubelet, containerd, no registry), Redis on the node, and `helm install sidekiq-probe`")
	env, err := lifecycle.Start(ctx, lifecycle.EnvOptions{StateDir: state, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		say("cleaning up: every pod, process, mount, network device and iptables chain the demo made")
		err = errors.Join(err, env.Stop())
	}()

	say("labelling namespace demo with sidekiq-probe.io/injection=enabled and deploying an annotated Sidekiq worker (2 replicas)")
	s, err := env.NewScenario(ctx, "demo rollout", 1, lifecycle.Worker{Namespace: "demo", Inject: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close(context.WithoutCancel(ctx))) }()
	say("the worker's pod template, as its team writes it:")
	fmt.Fprintf(out, "%s\n", yamlOf(s.Worker.Deployment().Spec.Template))

	pods, err := env.Pods(ctx, "demo")
	if err != nil {
		return err
	}
	say("the pod the webhook made of it (abridged):")
	fmt.Fprintf(out, "%s\n", yamlOf(abridged(pods[0])))

	say("the sidecar's answers to the kubelet's probes, live from pod %s (%s):", pods[0].Name, pods[0].Status.PodIP)
	for _, path := range []string{contract.PathStartup, contract.PathLive, contract.PathReady} {
		fmt.Fprintf(out, "GET %-10s %s\n", path, get(ctx, fmt.Sprintf("http://%s:%d%s", pods[0].Status.PodIP, contract.DefaultPort, path)))
	}

	say("rolling the worker with jobs of 1..%d s in flight (kubectl rollout restart); this takes a minute or two", lifecycle.MaxJobSeconds)
	sum, err := s.Rollout(ctx, lifecycle.RolloutOptions{Rolls: 1, Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)), Every: time.Second})
	if err != nil {
		return err
	}
	say("summary")
	fmt.Fprintln(out, sum)
	fmt.Fprintf(out, "jobs lost: %d\n", sum.Lost)
	return nil
}

// abridged keeps what the webhook added or changed.
func abridged(pod corev1.Pod) map[string]any {
	var sidekiq, sidecar *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "sidekiq" {
			sidekiq = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == contract.ContainerName {
			sidecar = &pod.Spec.InitContainers[i]
		}
	}
	spec := map[string]any{
		"shareProcessNamespace":         pod.Spec.ShareProcessNamespace,
		"terminationGracePeriodSeconds": pod.Spec.TerminationGracePeriodSeconds,
	}
	if sidecar != nil {
		spec["initContainers"] = []any{map[string]any{
			"name": sidecar.Name, "image": sidecar.Image, "restartPolicy": sidecar.RestartPolicy,
			"ports": sidecar.Ports, "securityContext": sidecar.SecurityContext, "resources": sidecar.Resources,
		}}
	}
	if sidekiq != nil {
		spec["containers"] = []any{map[string]any{
			"name": sidekiq.Name, "startupProbe": sidekiq.StartupProbe, "livenessProbe": sidekiq.LivenessProbe,
			"readinessProbe": sidekiq.ReadinessProbe, "lifecycle": sidekiq.Lifecycle,
		}}
	}
	return map[string]any{"metadata": map[string]any{"name": pod.Name, "annotations": pod.Annotations}, "spec": spec}
}

func yamlOf(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		return []byte(err.Error())
	}
	return b
}

func get(ctx context.Context, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}
