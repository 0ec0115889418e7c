package hostile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// TestInject_Hostile runs the real `sidekiq-probe-webhook inject` on
// manifests built to hurt it. Bounds are on the child's own rusage (CPU
// time, peak RSS), generous for a loaded 2-core machine; the figures are
// logged.
func TestInject_Hostile(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sidekiq-probe-webhook")
	testkit.Must(t, testkit.GoBuild(bin, "./cmd/sidekiq-probe-webhook"))

	tests := map[string]struct {
		stdin func(t *testing.T) io.Reader
		check func(t *testing.T, r injectRun)
	}{
		"a document that is not an object is an error naming its number, and nothing is printed": {
			stdin: func(*testing.T) io.Reader {
				return strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n42\n")
			},
			check: func(t *testing.T, r injectRun) {
				want := "error: document 2: a number is not accepted: want a Kubernetes object"
				if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "struct") || r.stdoutSize != 0 {
					t.Errorf("exit %d, %d bytes printed, stderr:\n%s\nwant exit 1, nothing printed and %q", r.code, r.stdoutSize, r.stderr, want)
				}
			},
		},
		"a 100 MB stream is injected with memory that follows its largest document, not the stream": {
			stdin: injectStream,
			check: func(t *testing.T, r injectRun) {
				r.wantOK(t)
				// Before, the whole stream and output were held: 560 MB.
				if r.maxRSSKiB > 200<<10 {
					t.Errorf("peak RSS %d MiB, want under 200", r.maxRSSKiB>>10)
				}
				if r.stdoutSize < 100e6 || r.count(t, "- name: "+contract.EnvPreStopToken) != 100 {
					t.Errorf("%d bytes printed with %d sidecars, want the 100 MB back with 100", r.stdoutSize, r.count(t, "- name: "+contract.EnvPreStopToken))
				}
			},
		},
		"5,000 envFrom sources are injected in well under a second of CPU": {
			stdin: func(*testing.T) io.Reader { return injectEnvFromPod(5000) },
			check: func(t *testing.T, r injectRun) {
				r.wantOK(t)
				r.wantCPUUnder(t, 3*time.Second) // before: 30 s
				if n := r.count(t, "name: cm-"); n != 2*5000 {
					t.Errorf("%d envFrom sources printed, want 5,000 on Sidekiq and 5,000 copied to the sidecar", n)
				}
			},
		},
		"20,000 envFrom sources are injected in about a second of CPU": {
			stdin: func(*testing.T) io.Reader { return injectEnvFromPod(20000) },
			check: func(t *testing.T, r injectRun) {
				r.wantOK(t)
				r.wantCPUUnder(t, 10*time.Second) // before: minutes (quadratic)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := injectExec(t, bin, tc.stdin(t))
			t.Logf("exit %d, CPU %v, peak RSS %d MiB, %d bytes printed", r.code, r.cpu, r.maxRSSKiB>>10, r.stdoutSize)
			tc.check(t, r)
		})
	}
}

// injectRun is one run of the inject command: its output in a file (it
// may be 100 MB) and its rusage.
type injectRun struct {
	code       int
	stdout     string // the file holding standard output
	stdoutSize int64
	stderr     string
	cpu        time.Duration // user + system
	maxRSSKiB  int64
}

func injectExec(t *testing.T, bin string, stdin io.Reader) injectRun {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	testkit.Must(t, err)
	defer out.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin, "inject", "-f", "-")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, &stderr
	err = cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatal(err)
	}
	info, err := out.Stat()
	testkit.Must(t, err)
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return injectRun{
		code: cmd.ProcessState.ExitCode(), stdout: out.Name(), stdoutSize: info.Size(),
		stderr: injectWithoutWarnings(stderr.String()),
		cpu:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), maxRSSKiB: usage.Maxrss,
	}
}

func (r injectRun) wantOK(t *testing.T) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr:\n%.2000s", r.code, r.stderr)
	}
}

func (r injectRun) wantCPUUnder(t *testing.T, bound time.Duration) {
	t.Helper()
	if r.cpu > bound {
		t.Errorf("CPU time %v, want under %v", r.cpu, bound)
	}
}

// count is the number of output lines that contain s, read line by line.
func (r injectRun) count(t *testing.T, s string) int {
	t.Helper()
	f, err := os.Open(r.stdout)
	testkit.Must(t, err)
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	testkit.Must(t, sc.Err())
	return n
}

// injectWithoutWarnings drops the expected "Warning:" lines (max-job-seconds
// not set, no Redis URL) and keeps everything else.
func injectWithoutWarnings(stderr string) string {
	var kept []string
	for _, line := range strings.Split(stderr, "\n") {
		if line != "" && !strings.HasPrefix(line, "Warning: ") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// injectStream writes a 100 MB YAML stream to a file and opens it: 1,000
// ConfigMaps of 100 KB, and before every tenth an annotated Deployment.
func injectStream(t *testing.T) io.Reader {
	path := filepath.Join(t.TempDir(), "stream.yaml")
	f, err := os.Create(path)
	testkit.Must(t, err)
	w := bufio.NewWriter(f)
	blob := strings.Repeat("x", 100_000)
	for i := range 1000 {
		if i%10 == 0 {
			fmt.Fprintf(w, injectDeployment, i)
		}
		fmt.Fprintf(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  blob: %s\n---\n", i, blob)
	}
	testkit.Must(t, w.Flush())
	testkit.Must(t, f.Close())
	in, err := os.Open(path)
	testkit.Must(t, err)
	t.Cleanup(func() { in.Close() })
	return in
}

const injectDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker-%d
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
      annotations:
        sidekiq-probe.io/inject: "true"
    spec:
      containers:
        - name: worker
          image: app:1
          command: ["bundle", "exec", "sidekiq"]
---
`

// injectEnvFromPod is an annotated pod whose Sidekiq container takes n
// envFrom sources, in JSON.
func injectEnvFromPod(n int) io.Reader {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"w","annotations":{"sidekiq-probe.io/inject":"true"}},` +
		`"spec":{"containers":[{"name":"worker","image":"app:1","command":["sidekiq"],"envFrom":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"configMapRef":{"name":"cm-%d"}}`, i)
	}
	b.WriteString(`]}]}}`)
	return strings.NewReader(b.String())
}
