// Package checkout finds this module's checkout from the working directory,
// the one way tests, the test cluster and its commands find bin/: a test
// runs in its package's folder, and -trimpath hides source paths from
// runtime.Caller. It does not import testing, so commands can use it.
package checkout

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// module is this module's path, as go.mod names it.
const module = "sidekiq-probe.io/sidekiq-probe"

// Root is the nearest folder at or above the working directory whose go.mod
// is this module's.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isOurs(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the sidekiq-probe checkout: no go.mod of module " + module + " at or above the working directory")
		}
		dir = parent
	}
}

// isOurs reports whether the go.mod at path declares this module.
func isOurs(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(scanner.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == module
		}
	}
	return false
}
