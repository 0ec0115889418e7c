package chart_test

import (
	"maps"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Each value reaches the object it is documented to change.
func TestValues_ReachTheDeployment(t *testing.T) {
	t.Parallel()
	dep := only[*appsv1.Deployment](t, render(t, valuesFile(t, `
image: {repository: team/webhook, tag: "1.2.3", pullPolicy: Always}
sidecarImage: {repository: team/sidecar, tag: "4.5.6"}
nativeSidecar: false
defaultMaxJobSeconds: 600
logLevel: debug
shutdownDelaySeconds: 12
replicaCount: 3
imagePullSecrets: [{name: pull}]
podAnnotations: {example.com/owner: jobs}
podLabels: {team: jobs}
priorityClassName: system-cluster-critical
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: jobs, effect: NoSchedule}]
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [system]}]}]
resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
reviewLimits: {maxReviewSize: 8Mi, memory: 128Mi}
webhook: {failurePolicy: Ignore, timeoutSeconds: 12}
`)...))
	pod := dep.Spec.Template.Spec
	c := webhookContainer(t, dep)
	flags := serveFlags(t, dep)

	checks := map[string]struct{ got, want any }{
		"image":                         {c.Image, "team/webhook:1.2.3"},
		"pullPolicy":                    {c.ImagePullPolicy, corev1.PullAlways},
		"sidecar-image":                 {flags["sidecar-image"], "team/sidecar:4.5.6"},
		"native-sidecar":                {flags["native-sidecar"], "false"},
		"default-max-job-seconds":       {flags["default-max-job-seconds"], "600"},
		"log-level":                     {flags["log-level"], "debug"},
		"shutdown-delay":                {flags["shutdown-delay"], "12s"},
		"max-review-size":               {flags["max-review-size"], "8Mi"},
		"review-memory":                 {flags["review-memory"], "128Mi"},
		"max-review-timeout":            {flags["max-review-timeout"], "12s"},
		"terminationGracePeriodSeconds": {deref(pod.TerminationGracePeriodSeconds), int64(42)},
		"replicas":                      {deref(dep.Spec.Replicas), int32(3)},
		"imagePullSecrets":              {len(pod.ImagePullSecrets) == 1 && pod.ImagePullSecrets[0].Name == "pull", true},
		"podAnnotations":                {dep.Spec.Template.Annotations["example.com/owner"], "jobs"},
		"podLabels":                     {dep.Spec.Template.Labels["team"], "jobs"},
		"priorityClassName":             {pod.PriorityClassName, "system-cluster-critical"},
		"nodeSelector":                  {maps.Equal(pod.NodeSelector, map[string]string{"kubernetes.io/os": "linux"}), true},
		"tolerations":                   {len(pod.Tolerations) == 1 && pod.Tolerations[0].Key == "dedicated", true},
		"affinity replaces the default": {pod.Affinity.NodeAffinity != nil && pod.Affinity.PodAntiAffinity == nil, true},
		"memory limit":                  {c.Resources.Limits.Memory().String(), "256Mi"},
		"cpu request":                   {c.Resources.Requests.Cpu().String(), "50m"},
	}
	for name, check := range checks {
		if check.got != check.want {
			t.Errorf("%s: got %v, want %v", name, check.got, check.want)
		}
	}
	if !selectsMap(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("podLabels broke the Deployment's selector")
	}
}
