package chart_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad values fail `helm install` before anything reaches the cluster, with an
// error naming the value.
func TestSchema_RejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		values string
		want   string
	}{
		"an unknown top-level key is rejected": {
			"replicas: 3", "additional properties 'replicas' not allowed",
		},
		"an unknown nested key is rejected": {
			"webhook: {failurePolicy: Ignore, timeoutSeconds: 5, timeout: 3}", "at '/webhook': additional properties 'timeout' not allowed",
		},
		"a misspelled security context field is rejected": {
			"securityContext: {readOnlyRootFileSystem: true}", "at '/securityContext': additional properties 'readOnlyRootFileSystem' not allowed",
		},
		"a failurePolicy other than Ignore or Fail is rejected": {
			"webhook: {failurePolicy: Never, timeoutSeconds: 5}", "at '/webhook/failurePolicy': value must be one of 'Ignore', 'Fail'",
		},
		"a timeout above the API server's 30 seconds is rejected": {
			"webhook: {failurePolicy: Ignore, timeoutSeconds: 31}", "at '/webhook/timeoutSeconds'",
		},
		"a replica count given as text is rejected": {
			"replicaCount: two", "at '/replicaCount': got string, want integer",
		},
		"zero replicas are rejected": {
			"replicaCount: 0", "at '/replicaCount'",
		},
		"a max job duration over a day is rejected": {
			"defaultMaxJobSeconds: 86401", "at '/defaultMaxJobSeconds'",
		},
		"nativeSidecar given as text is rejected": {
			`nativeSidecar: "yes"`, "at '/nativeSidecar': got string, want boolean",
		},
		"an unknown log level is rejected": {
			"logLevel: verbose", "at '/logLevel': value must be one of 'debug', 'info', 'warn', 'error'",
		},
		"a shutdown delay over a minute is rejected": {
			"shutdownDelaySeconds: 61", "at '/shutdownDelaySeconds'",
		},
		"a review size that is not a quantity of bytes is rejected": {
			"reviewLimits: {maxReviewSize: 7MB, memory: 48Mi}", "at '/reviewLimits/maxReviewSize'",
		},
		"a review memory given as a number is rejected": {
			"reviewLimits: {maxReviewSize: 7Mi, memory: 50331648}", "at '/reviewLimits/memory': got number, want string",
		},
		"a negative shutdown delay is rejected": {
			"shutdownDelaySeconds: -1", "at '/shutdownDelaySeconds'",
		},
		"an unknown validation action is rejected": {
			"validation: {enabled: true, actions: [Block]}", "at '/validation/actions/0': value must be one of 'Deny', 'Warn', 'Audit'",
		},
		"no validation action at all is rejected": {
			"validation: {enabled: true, actions: []}", "at '/validation/actions'",
		},
		"Deny and Warn together are rejected": {
			"validation: {enabled: true, actions: [Deny, Warn]}", "validation.actions: Deny and Warn cannot be combined",
		},
		"a plain http webhook URL is rejected": {
			"webhook: {failurePolicy: Ignore, timeoutSeconds: 5, clientConfig: {url: 'http://127.0.0.1:9443/'}}", "at '/webhook/clientConfig/url'",
		},
		"a caBundle without a URL is rejected": {
			"webhook: {failurePolicy: Ignore, timeoutSeconds: 5, caBundle: Zm9v}", "webhook.caBundle is only used with webhook.clientConfig.url",
		},
		"an image tag inside the repository is rejected": {
			"image: {repository: 'sidekiq-probe/sidekiq-probe:1.0', tag: '', pullPolicy: IfNotPresent}", "at '/image/repository'",
		},
		"an unknown pull policy is rejected": {
			"image: {repository: sidekiq-probe/sidekiq-probe, tag: '', pullPolicy: Sometimes}", "at '/image/pullPolicy'",
		},
		"a namespace selector with an unknown operator is rejected": {
			"webhook: {failurePolicy: Ignore, timeoutSeconds: 5, namespaceSelector: {matchExpressions: [{key: team, operator: Equals}]}}",
			"at '/webhook/namespaceSelector/matchExpressions/0/operator'",
		},
		"a resource quantity that is not one is rejected": {
			"resources: {limits: {memory: lots}}", "at '/resources/limits/memory'",
		},
		"a non-string pod annotation is rejected": {
			"podAnnotations: {scrape: true}", "at '/podAnnotations/scrape': got boolean, want string",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := helm(t, templateArgs(valuesFile(t, tc.values)...)...)
			if err == nil {
				t.Fatalf("helm template accepted %q", tc.values)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q:\n%v", tc.want, err)
			}
		})
	}
}

// Every object of the schema is closed (additionalProperties false), or is a
// map whose values have a schema. The only open objects are those whose
// content is Kubernetes' own and is checked by the API server.
func TestSchema_IsStrictAtEveryLevel(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	open := map[string]bool{
		"/global":                   true, // shared with an umbrella chart
		"/affinity/nodeAffinity":    true,
		"/affinity/podAffinity":     true,
		"/affinity/podAntiAffinity": true,
	}
	walkSchema(t, "", schema, open)
}

func walkSchema(t *testing.T, path string, node map[string]any, open map[string]bool) {
	t.Helper()
	if node["type"] == "object" && !open[path] {
		switch extra := node["additionalProperties"].(type) {
		case bool:
			if extra {
				t.Errorf("%s: additionalProperties is true", path)
			}
		case map[string]any:
			walkSchema(t, path+"/*", extra, open)
		default:
			t.Errorf("%s: an object without additionalProperties: false", path)
		}
	}
	if props, ok := node["properties"].(map[string]any); ok {
		for name, child := range props {
			walkSchema(t, path+"/"+name, child.(map[string]any), open)
		}
	}
	if items, ok := node["items"].(map[string]any); ok {
		walkSchema(t, path+"/[]", items, open)
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if list, ok := node[key].([]any); ok {
			for _, child := range list {
				walkSchema(t, path, child.(map[string]any), open)
			}
		}
	}
}
