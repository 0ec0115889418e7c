package chart_test

import (
	"testing"
)

func TestLint_IsClean(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"helm lint":          {"lint", chartDir, "--kube-version", kubeVersion},
		"helm lint --strict": {"lint", "--strict", chartDir, "--kube-version", kubeVersion},
		"helm lint --strict with every option on": {
			"lint", "--strict", chartDir, "--kube-version", kubeVersion,
			"--set", "webhook.failurePolicy=Fail", "--set", "replicaCount=1", "--set", "validation.enabled=false",
			"--set", "webhook.clientConfig.url=https://127.0.0.1:9443/mutate-v1-pod", "--set", "webhook.caBundle=Zm9v",
		},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if out, err := helm(t, args...); err != nil {
				t.Errorf("%v\n%s", err, out)
			}
		})
	}
}
