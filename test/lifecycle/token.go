package lifecycle

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// SidecarURL is the address of path on pod's sidecar, as the kubelet and
// anyone else on the pod network reach it.
func (s *Scenario) SidecarURL(ctx context.Context, pod, path string) (string, error) {
	pods, err := s.Env.Pods(ctx, s.Worker.Namespace)
	if err != nil {
		return "", err
	}
	for _, p := range pods {
		if p.Name == pod && p.Status.PodIP != "" {
			return fmt.Sprintf("http://%s:%d%s", p.Status.PodIP, contract.DefaultPort, path), nil
		}
	}
	return "", fmt.Errorf("pod %s has no IP", pod)
}

// GetFromNode is a GET from the node itself (this process), with token in
// the preStop header when not empty; it returns the status code.
func GetFromNode(ctx context.Context, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set(contract.HeaderPreStopToken, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// GetFromPod is a GET run inside pod's Sidekiq container, with the Ruby of
// the test app's image: a request from another pod of the network.
func (s *Scenario) GetFromPod(ctx context.Context, pod, url string) (string, error) {
	out, err := s.Exec(ctx, pod, "sidekiq", "ruby", "-rnet/http", "-e",
		fmt.Sprintf("print Net::HTTP.get_response(URI(%q)).code", url))
	return strings.TrimSpace(out), err
}

// Working tells whether pod's Sidekiq reports, in its own heartbeat, jobs
// running and not being quiet.
func (s *Scenario) Working(ctx context.Context, pod string) error {
	pid, err := s.SidekiqPID(ctx, pod)
	if err != nil {
		return err
	}
	members, err := s.Redis.SMembers(ctx, "processes").Result()
	if err != nil {
		return err
	}
	for _, m := range members {
		if strings.HasPrefix(m, pod+":"+pid+":") {
			v, err := s.Redis.HMGet(ctx, m, "busy", "quiet").Result()
			if err != nil {
				return err
			}
			if busy, quiet := fmt.Sprint(v[0]), fmt.Sprint(v[1]); busy == "0" || quiet != "false" {
				return fmt.Errorf("pod %s: busy %s, quiet %s", pod, busy, quiet)
			}
			return nil
		}
	}
	return fmt.Errorf("no heartbeat of pod %s", pod)
}
