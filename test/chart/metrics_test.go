package chart_test

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var serviceMonitorArgs = []string{
	"--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=prom",
	"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
}

func TestServiceMonitor_ScrapesTheMetricsPort(t *testing.T) {
	t.Parallel()
	objs := render(t, serviceMonitorArgs...)
	dep := only[*appsv1.Deployment](t, objs)
	monitors := byKind(objs, "ServiceMonitor")
	if len(monitors) != 1 {
		t.Fatalf("want one ServiceMonitor, got %d", len(monitors))
	}
	monitor := monitors[0]
	if got := monitor.GetLabels()["release"]; got != "prom" {
		t.Errorf("ServiceMonitor label release=%q, want prom (from metrics.serviceMonitor.labels)", got)
	}

	selector, _, _ := unstructured.NestedStringMap(monitor.Object, "spec", "selector", "matchLabels")
	var scraped []corev1.Service
	for _, svc := range all[*corev1.Service](objs) {
		if selectsMap(selector, svc.Labels) {
			scraped = append(scraped, *svc)
		}
	}
	if len(scraped) != 1 {
		t.Fatalf("ServiceMonitor selects %d Services, want only the metrics one", len(scraped))
	}
	svc := scraped[0]
	if !selectsMap(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("metrics Service does not select the webhook pods")
	}
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("want one ServiceMonitor endpoint, got %d", len(endpoints))
	}
	endpoint := endpoints[0].(map[string]any)
	if endpoint["port"] != "metrics" || endpoint["path"] != "/metrics" {
		t.Errorf("endpoint %v, want port metrics path /metrics", endpoint)
	}
	var target int32
	for _, p := range svc.Spec.Ports {
		if p.Name == "metrics" {
			for _, cp := range webhookContainer(t, dep).Ports {
				if cp.Name == p.TargetPort.String() {
					target = cp.ContainerPort
				}
			}
		}
	}
	if want := serveFlags(t, dep)["metrics-addr"]; ":"+strconv.Itoa(int(target)) != want {
		t.Errorf("metrics Service reaches container port %d, the webhook serves metrics on %s", target, want)
	}
}

func TestServiceMonitor_OffByDefault(t *testing.T) {
	t.Parallel()
	objs := render(t)
	if n := len(byKind(objs, "ServiceMonitor")); n != 0 {
		t.Errorf("rendered %d ServiceMonitors by default, want none", n)
	}
}

func TestServiceMonitor_WithoutItsAPIFailsClearly(t *testing.T) {
	t.Parallel()
	_, err := helm(t, templateArgs("--set", "metrics.serviceMonitor.enabled=true")...)
	if err == nil || !strings.Contains(err.Error(), "needs the Prometheus Operator's CRDs") {
		t.Errorf("want an error saying the Prometheus Operator's CRDs are needed, got %v", err)
	}
}
