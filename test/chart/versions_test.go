package chart_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/internal/testcontrolplane"
)

// The chart accepts exactly the releases the API-server tests run on: its
// kubeVersion floor is testcontrolplane.Oldest, which test/e2e runs on next
// to testcontrolplane.Newest.
func TestChart_KubeVersionIsTheOldestTestedRelease(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		KubeVersion string `json:"kubeVersion"`
	}
	if err := yaml.Unmarshal(raw, &chart); err != nil {
		t.Fatal(err)
	}
	if want := ">=" + minor(t, testcontrolplane.Oldest.Version) + ".0-0"; chart.KubeVersion != want {
		t.Errorf("Chart.yaml's kubeVersion is %q, want %q: the oldest release the e2e tests run on", chart.KubeVersion, want)
	}
}

func TestChart_RendersForTheTestedReleasesAndRefusesOlder(t *testing.T) {
	t.Parallel()
	floor := minor(t, testcontrolplane.Oldest.Version)
	major, m, _ := strings.Cut(floor, ".")
	n, err := strconv.Atoi(m)
	if err != nil {
		t.Fatal(err)
	}
	below := "v" + major + "." + strconv.Itoa(n-1) + ".99"
	tests := map[string]struct {
		kubeVersion string
		refused     bool
	}{
		"the oldest tested release is accepted":     {kubeVersion: testcontrolplane.Oldest.Version},
		"the newest tested release is accepted":     {kubeVersion: testcontrolplane.Newest.Version},
		"the minor release below the oldest is not": {kubeVersion: below, refused: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := helm(t, "template", release, chartDir, "--namespace", namespace, "--kube-version", tc.kubeVersion)
			switch {
			case tc.refused && (err == nil || !strings.Contains(err.Error(), "kubeVersion: >="+floor+".0-0")):
				t.Errorf("want helm to refuse %s naming the chart's kubeVersion, got %v", tc.kubeVersion, err)
			case !tc.refused && err != nil:
				t.Errorf("helm template for %s: %v", tc.kubeVersion, err)
			}
		})
	}
}

// helm checks kubeVersion against the version the cluster reports, and the
// API server refuses any object of an API it does not serve.
func TestChart_InstallsOnTheOldestTestedRelease(t *testing.T) {
	t.Parallel()
	c := startCluster(t, testcontrolplane.WithRelease(testcontrolplane.Oldest))
	c.helm(t, "install", release, chartDir, "--create-namespace")
}

// The READMEs name the same floor as the chart.
func TestDocs_NameTheOldestTestedRelease(t *testing.T) {
	t.Parallel()
	want := "Kubernetes " + minor(t, testcontrolplane.Oldest.Version) + " or later"
	for _, path := range []string{filepath.Join("..", "..", "README.md"), filepath.Join(chartDir, "README.md")} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(strings.Fields(string(raw)), " "), want) {
			t.Errorf("%s does not say %q", path, want)
		}
	}
}

// minor is "1.30" for "v1.30.14".
func minor(t *testing.T, version string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	if len(parts) != 3 {
		t.Fatalf("version %q is not vMAJOR.MINOR.PATCH", version)
	}
	return parts[0] + "." + parts[1]
}
