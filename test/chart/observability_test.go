package chart_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// externalMetrics are the series the dashboard and alerts read from others:
// Prometheus itself, kube-state-metrics (it cannot tell a liveness restart
// from a crash, so the restart alert counts every restart) and the API
// server (the validation policy's checks, webhook calls that failed open).
var externalMetrics = map[string]bool{
	"up": true,
	"kube_pod_container_status_restarts_total":          true,
	"apiserver_validating_admission_policy_check_total": true,
	"apiserver_admission_webhook_fail_open_count":       true,
}

func TestDashboard_ParsesAndQueriesOnlyExportedMetrics(t *testing.T) {
	cm := only[*corev1.ConfigMap](t, render(t, "--set", "dashboards.enabled=true"))
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v: Grafana's sidecar looks for grafana_dashboard: \"1\"", cm.Labels)
	}
	if len(cm.Data) == 0 {
		t.Fatal("the ConfigMap holds no dashboard")
	}
	exported := exportedMetrics(t)
	for file, content := range cm.Data {
		var dashboard struct {
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal([]byte(content), &dashboard); err != nil {
			t.Fatalf("%s does not parse: %v", file, err)
		}
		if dashboard.Title == "" || len(dashboard.Panels) == 0 {
			t.Errorf("%s: no title or no panels", file)
		}
		for _, p := range dashboard.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", file, p.Title)
			}
			for _, target := range p.Targets {
				assertExported(t, file+": panel "+strconv.Quote(p.Title), target.Expr, exported)
			}
		}
	}
}

func TestPrometheusRule_QueriesOnlyExportedMetrics(t *testing.T) {
	rules := byKind(render(t, "--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"), "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want 1", len(rules))
	}
	exported := exportedMetrics(t)
	groups, _, _ := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
	alerts := 0
	for _, g := range groups {
		list, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range list {
			rule := r.(map[string]any)
			name, _ := rule["alert"].(string)
			expr, _ := rule["expr"].(string)
			if name == "" || expr == "" {
				t.Errorf("rule %v: needs an alert name and an expr", rule)
				continue
			}
			alerts++
			assertExported(t, "alert "+name, expr, exported)
		}
	}
	if alerts < 5 {
		t.Errorf("%d alerts, want at least the five of the issue", alerts)
	}
}

func TestPrometheusRule_RendersOnlyWithItsAPI(t *testing.T) {
	tests := map[string]struct {
		args []string
		want int
	}{
		"enabled with the API present":  {[]string{"--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"}, 1},
		"enabled without the API":       {[]string{"--set", "prometheusRule.enabled=true"}, 0},
		"forced without the API":        {[]string{"--set", "prometheusRule.enabled=true", "--set", "prometheusRule.force=true"}, 1},
		"disabled even with the API":    {[]string{"--api-versions", "monitoring.coreos.com/v1/PrometheusRule"}, 0},
		"another API of the same group": {[]string{"--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"}, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := len(byKind(render(t, tc.args...), "PrometheusRule")); got != tc.want {
				t.Errorf("%d PrometheusRules, want %d", got, tc.want)
			}
		})
	}
}

// assertExported fails for every metric the PromQL expression names that
// neither our code nor externalMetrics provides.
func assertExported(t *testing.T, where, expr string, exported map[string]bool) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric found in %q", where, expr)
	}
	for _, name := range names {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if trimmed, ok := strings.CutSuffix(name, suffix); ok && exported[trimmed] {
				base = trimmed // a histogram's series
			}
		}
		if !exported[base] && !externalMetrics[name] {
			t.Errorf("%s: %s is exported by no code of ours and is not in externalMetrics (query %q)", where, name, expr)
		}
	}
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}
)

// metricNames finds the metric names in a PromQL expression: identifiers
// left once strings, label matchers, ranges and grouping clauses are gone,
// except function names (followed by "(") and operators. Enough for the
// expressions we write; not a PromQL parser.
func metricNames(expr string) []string {
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promMatchers.ReplaceAllString(expr, " ")
	expr = promGrouping.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(expr, -1) {
		word := expr[loc[0]:loc[1]]
		rest := strings.TrimLeft(expr[loc[1]:], " \t\n")
		if promKeywords[word] || strings.HasPrefix(rest, "(") {
			continue
		}
		names = append(names, word)
	}
	return names
}

// exportedMetrics reads the metric names our code registers from its
// source: the Name of every prometheus.*Opts literal in the webhook server
// and the probe sidecar, and the first argument of local helpers that build
// such options (probeserver's perProcess), prefixed with the file's
// Namespace when it sets one.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	exported := map[string]bool{}
	for _, dir := range []string{"webhook/server", "probeserver"} {
		pkgs, err := parser.ParseDir(token.NewFileSet(), filepath.Join("..", "..", dir), func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, pkg := range pkgs {
			for _, file := range pkg.Files {
				var namespace string
				var names []string
				ast.Inspect(file, func(n ast.Node) bool {
					switch n := n.(type) {
					case *ast.KeyValueExpr:
						key, _ := n.Key.(*ast.Ident)
						if key != nil && (key.Name == "Name" || key.Name == "Namespace") {
							if v, ok := stringLit(n.Value); ok {
								if key.Name == "Namespace" {
									namespace = v
								} else {
									names = append(names, v)
								}
							}
						}
					case *ast.CallExpr:
						if _, local := n.Fun.(*ast.Ident); local && len(n.Args) > 0 {
							if v, ok := stringLit(n.Args[0]); ok {
								names = append(names, v)
							}
						}
					}
					return true
				})
				for _, name := range names {
					exported[name] = true
					if namespace != "" {
						exported[namespace+"_"+name] = true
					}
				}
			}
		}
	}
	if !exported["sidekiq_probe_webhook_admissions_total"] || !exported["sidekiq_probe_heartbeat_age_seconds"] {
		t.Fatalf("the scan of the Go code found too little: %v", exported)
	}
	return exported
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// A running job older than the pod's max-job-seconds is cut off by the next
// rollout: the chart alerts on it (the sidecar exports both series) and the
// dashboard shows both.
func TestObservability_JobOlderThanMaxJobSeconds(t *testing.T) {
	rules := byKind(render(t, "--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"), "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want 1", len(rules))
	}
	var expr string
	groups, _, _ := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
	for _, g := range groups {
		list, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range list {
			if rule := r.(map[string]any); rule["alert"] == "SidekiqProbeJobOlderThanMaxJobSeconds" {
				expr, _ = rule["expr"].(string)
			}
		}
	}
	if names := metricNames(expr); !slices.Equal(names, []string{"sidekiq_probe_oldest_job_seconds", "sidekiq_probe_max_job_seconds"}) {
		t.Errorf("SidekiqProbeJobOlderThanMaxJobSeconds compares %v (%q), want the oldest job against max-job-seconds", names, expr)
	}
	cm := only[*corev1.ConfigMap](t, render(t, "--set", "dashboards.enabled=true"))
	for _, series := range []string{"sidekiq_probe_oldest_job_seconds", "sidekiq_probe_max_job_seconds"} {
		shown := false
		for _, content := range cm.Data {
			shown = shown || strings.Contains(content, series)
		}
		if !shown {
			t.Errorf("no dashboard shows %s", series)
		}
	}
}
