package inject

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// testOptions are the defaults Main gets: the test image, and the same
// bytes for every token so that the golden outputs are stable.
var testOptions = webhook.Options{SidecarImage: "sidekiq-probe/sidekiq-probe:test", Random: fixedRandom{}}

type fixedRandom struct{}

func (fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// TestMain_Golden runs the command end to end. Its standard output and
// error are compared with testdata/<golden>.stdout and .stderr.
func TestMain_Golden(t *testing.T) {
	tests := map[string]struct {
		args     []string
		stdin    string // a testdata file fed to standard input
		golden   string
		wantCode int
	}{
		"several YAML documents: only the annotated template is injected, with a warning": {
			args: []string{"-f", "testdata/several-documents.yaml"}, golden: "several-documents", wantCode: 0,
		},
		"a v1 List read from standard input and written as JSON": {
			args: []string{"-f", "-", "-o", "json"}, stdin: "testdata/list.json", golden: "list", wantCode: 0,
		},
		"the webhook flags are honoured: a regular container, another image and default": {
			args: []string{"-f", "testdata/several-documents.yaml", "--native-sidecar=false",
				"--sidecar-image", "mirror.example/sidekiq-probe:1.2", "--default-max-job-seconds", "300"},
			golden: "several-documents-flags", wantCode: 0,
		},
		"every invalid object is reported by name, and nothing is printed": {
			args: []string{"-f", "testdata/two-invalid.yaml"}, golden: "two-invalid", wantCode: 1,
		},
		"documents that are not objects are reported by number, and nothing is printed": {
			args: []string{"-f", "testdata/not-objects.yaml"}, golden: "not-objects", wantCode: 1,
		},
		"a JSON stream's number is reported by its document number": {
			args: []string{"-f", "-", "-o", "json"}, stdin: "testdata/not-object.json", golden: "not-object-json", wantCode: 1,
		},
		"an unknown output format is a usage error": {
			args: []string{"-f", "testdata/list.json", "-o", "xml"}, golden: "bad-output-format", wantCode: 2,
		},
		"a missing file is an error naming it": {
			args: []string{"-f", "testdata/does-not-exist.yaml"}, golden: "missing-file", wantCode: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdin bytes.Reader
			if tc.stdin != "" {
				b, err := os.ReadFile(tc.stdin)
				if err != nil {
					t.Fatal(err)
				}
				stdin.Reset(b)
			}
			var stdout, stderr bytes.Buffer
			code := Main(tc.args, &stdin, &stdout, &stderr, testOptions)
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.wantCode, &stderr)
			}
			golden(t, filepath.Join("testdata", tc.golden+".stdout"), stdout.String())
			golden(t, filepath.Join("testdata", tc.golden+".stderr"), stderr.String())
		})
	}
}

// TestMain_Idempotent feeds the command its own output: nothing changes and
// no sidecar is added twice. Tokens come from crypto/rand here, so the
// second pass would print another token if it did not keep the first.
func TestMain_Idempotent(t *testing.T) {
	opts := webhook.Options{SidecarImage: testOptions.SidecarImage}
	var once, twice, stderr bytes.Buffer
	if code := Main([]string{"-f", "testdata/several-documents.yaml"}, nil, &once, &stderr, opts); code != 0 {
		t.Fatalf("exit status %d: %s", code, &stderr)
	}
	if code := Main([]string{"-f", "-"}, bytes.NewReader(once.Bytes()), &twice, &stderr, opts); code != 0 {
		t.Fatalf("exit status %d: %s", code, &stderr)
	}
	if once.String() != twice.String() {
		t.Errorf("the second pass changed the output:\n%s", twice.String())
	}
	if n := strings.Count(twice.String(), "- /sidekiq-probe\n"); n != 1 {
		t.Errorf("%d sidekiq-probe sidecars, want 1", n)
	}
	if n := strings.Count(twice.String(), "name: "+contract.EnvPreStopToken); n != 1 {
		t.Errorf("%d preStop token variables, want 1", n)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s: want\n%s\ngot\n%s", path, want, got)
	}
}

// TestSpool_MovesToAFileAndBack writes more than spoolMemory: the output
// comes back whole and in order, and closing leaves no file behind.
func TestSpool_MovesToAFileAndBack(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s := &spool{}
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	var want bytes.Buffer
	for i := 0; want.Len() <= spoolMemory+len(chunk); i++ {
		chunk[0] = byte('A' + i%26)
		if _, err := s.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
	}
	if s.file == nil {
		t.Fatal("the spool kept everything in memory")
	}
	var got bytes.Buffer
	if err := s.copyTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("the spool gave back %d bytes, not the %d written", got.Len(), want.Len())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
