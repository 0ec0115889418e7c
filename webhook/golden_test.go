package webhook

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// testOptions are the webhook flags of the golden cases; a case whose name
// starts with "non-native-" runs with NativeSidecar false.
func testOptions(name string) Options {
	return Options{
		SidecarImage:         "sidekiq-probe/sidekiq-probe:test",
		NativeSidecar:        !strings.HasPrefix(name, "non-native-"),
		DefaultMaxJobSeconds: DefaultMaxJobSeconds,
		Random:               fixedRandom{},
	}
}

// fixedRandom gives the same bytes (0, 1, 2...) to every read, so every
// token of a golden output is the same, and stable.
type fixedRandom struct{}

func (fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// TestMutateObject_Golden runs every testdata/<case>.in.yaml through
// MutateObject. The expected object is in <case>.out.yaml, the expected
// warnings (one per line) in <case>.warnings when there are any, and for an
// invalid input the expected error text in <case>.err instead.
func TestMutateObject_Golden(t *testing.T) {
	inputs := goldenFiles(t, ".in.yaml")
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			base := strings.TrimSuffix(in, ".in.yaml")
			got, outcome, err := MutateObject(readJSON(t, in), testOptions(name))

			var invalid *InvalidError
			if err != nil && !errors.As(err, &invalid) {
				t.Fatalf("error is not an *InvalidError: %v", err)
			}
			if err != nil {
				checkGolden(t, base+".err", err.Error()+"\n")
				return
			}
			checkAbsent(t, base+".err")
			checkGolden(t, base+".warnings", testkit.WarningLines(outcome.Warnings))

			gotYAML, err := yaml.JSONToYAML(got)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				writeGolden(t, base+".out.yaml", string(gotYAML))
			}
			want := readJSON(t, base+".out.yaml")
			if !sameObject(t, got, want) {
				t.Errorf("%s differs from the output (run go test -update to accept):\n%s", base+".out.yaml", gotYAML)
			}

			again, _, err := MutateObject(got, testOptions(name))
			if err != nil {
				t.Fatalf("mutating the output again: %v", err)
			}
			if !sameObject(t, again, got) {
				t.Errorf("not idempotent: mutating the output changed it again")
			}
		})
	}
}

func readJSON(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// sameObject compares decoded objects, not bytes: key order and number
// formatting do not matter.
func sameObject(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := yaml.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// checkGolden compares got with the file; "" means the file must not exist.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		writeGolden(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		want, err = nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s: want\n%s\ngot\n%s", path, want, got)
	}
}

func checkAbsent(t *testing.T, path string) {
	t.Helper()
	if *update {
		os.Remove(path)
		return
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s exists but the input was accepted", path)
	}
}

func writeGolden(t *testing.T, path, content string) {
	t.Helper()
	if content == "" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// goldenFiles are testdata's golden files ending in suffix (".in.yaml",
// ".out.yaml"): the cases every golden-driven test and fuzz seed walks.
func goldenFiles(tb testing.TB, suffix string) []string {
	tb.Helper()
	files, err := filepath.Glob("testdata/*" + suffix)
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden %s files in testdata/: %v", suffix, err)
	}
	return files
}
