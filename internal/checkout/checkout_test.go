package checkout

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ours, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		dir     string
		want    string
		wantErr bool
	}{
		"a package folder finds the checkout above it": {dir: ".", want: ours},
		"the checkout itself is the root":              {dir: ours, want: ours},
		"another module's folder is no checkout":       {dir: other, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Chdir(tc.dir)
			got, err := Root()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("found %s, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Root() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
