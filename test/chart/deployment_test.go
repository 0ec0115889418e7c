package chart_test

import (
	"maps"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

func TestDeployment_RunsTwoSpreadReplicas(t *testing.T) {
	t.Parallel()
	objs := render(t)
	dep := only[*appsv1.Deployment](t, objs)
	pod := dep.Spec.Template

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	anti := pod.Spec.Affinity.PodAntiAffinity
	if anti == nil || len(anti.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("want one preferred pod anti-affinity term, got %+v", pod.Spec.Affinity)
	}
	term := anti.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
	if term.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("anti-affinity topology %q, want kubernetes.io/hostname", term.TopologyKey)
	}
	if !selects(t, term.LabelSelector, pod.Labels) {
		t.Errorf("anti-affinity selector %v does not select the webhook pods %v", term.LabelSelector, pod.Labels)
	}

	pdb := only[*policyv1.PodDisruptionBudget](t, objs)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", pdb.Spec.MinAvailable)
	}
	if !selects(t, pdb.Spec.Selector, pod.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the webhook pods %v", pdb.Spec.Selector, pod.Labels)
	}

	if pod.Spec.ServiceAccountName != only[*corev1.ServiceAccount](t, objs).Name {
		t.Errorf("pods run as %q, not the chart's ServiceAccount", pod.Spec.ServiceAccountName)
	}
}

func TestDeployment_OneReplicaHasNoDisruptionBudget(t *testing.T) {
	t.Parallel()
	objs := render(t, "--set", "replicaCount=1")
	if pdbs := all[*policyv1.PodDisruptionBudget](objs); len(pdbs) != 0 {
		t.Errorf("want no PodDisruptionBudget with one replica (it would block every drain), got %d", len(pdbs))
	}
}

func TestDeployment_ContainerIsProbedAndFindsItsNamespace(t *testing.T) {
	t.Parallel()
	dep := only[*appsv1.Deployment](t, render(t))
	c := webhookContainer(t, dep)

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if want := map[string]int32{"webhook": 9443, "health": 8081, "metrics": 8080}; !maps.Equal(ports, want) {
		t.Errorf("container ports %v, want %v", ports, want)
	}
	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, probe := range probes {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "health" {
			t.Errorf("want an httpGet probe on %s at the health port, got %+v", path, probe)
		}
	}

	var podNamespace *corev1.EnvVar
	for i, env := range c.Env {
		if env.Name == "POD_NAMESPACE" {
			podNamespace = &c.Env[i]
		}
	}
	if podNamespace == nil || podNamespace.ValueFrom == nil || podNamespace.ValueFrom.FieldRef == nil ||
		podNamespace.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("want POD_NAMESPACE from the downward API metadata.namespace, got %+v", podNamespace)
	}

	certDir := serveFlags(t, dep)["cert-dir"]
	volume := mountedAt(t, dep, certDir)
	if volume.EmptyDir == nil {
		t.Errorf("want an emptyDir at the cert dir %s (the root filesystem is read-only), got %+v", certDir, volume)
	}
}

// mountedAt returns the pod volume mounted at path in the webhook container.
func mountedAt(t *testing.T, dep *appsv1.Deployment, path string) corev1.Volume {
	t.Helper()
	for _, m := range webhookContainer(t, dep).VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				return v
			}
		}
	}
	t.Fatalf("no volume mounted at %s", path)
	return corev1.Volume{}
}

func TestService_SendsPort443ToTheWebhookPort(t *testing.T) {
	t.Parallel()
	objs := render(t)
	svc := only[*corev1.Service](t, objs)
	dep := only[*appsv1.Deployment](t, objs)

	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("want the Service to expose one port, got %+v", svc.Spec.Ports)
	}
	port := svc.Spec.Ports[0]
	target := port.TargetPort.String()
	var containerPort int32
	for _, p := range webhookContainer(t, dep).Ports {
		if p.Name == target {
			containerPort = p.ContainerPort
		}
	}
	if port.Port != 443 || containerPort != 9443 {
		t.Errorf("Service port %d -> %q (container port %d), want 443 -> 9443", port.Port, target, containerPort)
	}
	if !selectsMap(svc.Spec.Selector, dep.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the webhook pods %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
}
