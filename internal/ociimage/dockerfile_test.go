package ociimage

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// TestDockerfileAgrees keeps the Dockerfile and `make image` one image: the
// final stage's USER, ENTRYPOINT and COPY destinations are this package's
// user, entrypoint and files.
func TestDockerfileAgrees(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := strings.Split(string(data), "\nFROM ")
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final, "scratch\n") {
		t.Errorf("the final stage is FROM %q, want scratch (nothing but our files)", strings.SplitN(final, "\n", 2)[0])
	}
	var user string
	var entrypoint, files []string
	for _, line := range strings.Split(final, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case fields[0] == "USER":
			user = fields[1]
		case fields[0] == "ENTRYPOINT":
			testkit.Must(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT")), &entrypoint))
		case fields[0] == "COPY":
			files = append(files, copied(fields[1:])...)
		}
	}
	if user != User || !slices.Equal(entrypoint, Entrypoint()) {
		t.Errorf("Dockerfile: USER %q, ENTRYPOINT %q; make image: %q, %q", user, entrypoint, User, Entrypoint())
	}
	slices.Sort(files)
	if want := []string{"/" + CARootsIn, "/" + Sidecar, "/" + Webhook}; !slices.Equal(files, want) {
		t.Errorf("Dockerfile copies %q, make image writes %q", files, want)
	}
}

// copied is where a COPY's sources land: "COPY [--from=x] src... dest".
func copied(args []string) []string {
	args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, "--") })
	dest := args[len(args)-1]
	if !strings.HasSuffix(dest, "/") {
		return []string{dest}
	}
	var out []string
	for _, src := range args[:len(args)-1] {
		out = append(out, dest+filepath.Base(src))
	}
	return out
}
