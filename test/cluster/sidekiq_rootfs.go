package cluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"sidekiq-probe.io/sidekiq-probe/internal/ociimage"
)

// sidekiqPackages are the Debian packages the Sidekiq image is made of; their
// dependency closure is unpacked too. dash gives `kubectl exec` a shell.
var sidekiqPackages = []string{"ruby-sidekiq", "dash", "coreutils"}

// sidekiqBaseLayer returns a layer holding Ruby and Debian's Sidekiq with all
// their dependencies, unpacked from .deb files (no maintainer scripts run).
// The .debs and the compressed layer are cached under cache, so this is slow
// only once.
func sidekiqBaseLayer(ctx context.Context, cache string) (v1.Layer, error) {
	out := filepath.Join(cache, "sidekiq-base.layer.tar.gz")
	if _, err := os.Stat(out); err == nil {
		return ociimage.LayerFromTar(out)
	}
	debs := filepath.Join(cache, "debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return nil, err
	}
	pkgs, err := packageClosure(ctx, sidekiqPackages)
	if err != nil {
		return nil, err
	}
	download := []string{"download"}
	for _, p := range pkgs {
		if m, _ := filepath.Glob(filepath.Join(debs, p+"_*.deb")); len(m) == 0 {
			download = append(download, p)
		}
	}
	if len(download) > 1 {
		if err := run(ctx, debs, "apt-get", download...); err != nil {
			return nil, err
		}
	}

	rootfs := filepath.Join(cache, "sidekiq-rootfs")
	if err := os.RemoveAll(rootfs); err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(debs, "*.deb"))
	for _, deb := range files {
		if err := run(ctx, "", "dpkg-deb", "-x", deb, rootfs); err != nil {
			return nil, err
		}
	}
	if err := addSystemFiles(rootfs); err != nil {
		return nil, err
	}
	if err := tarTree(ctx, rootfs, out+".tmp"); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return nil, err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return nil, err
	}
	return ociimage.LayerFromTar(out)
}

// addSystemFiles adds what dpkg's maintainer scripts would have made and
// Sidekiq needs.
func addSystemFiles(rootfs string) error {
	for _, dir := range []string{"tmp", "etc", "app"} {
		if err := os.MkdirAll(filepath.Join(rootfs, dir), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		return err
	}
	if err := os.Symlink("dash", filepath.Join(rootfs, "bin", "sh")); err != nil && !os.IsExist(err) {
		return err
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	return os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte(passwd), 0o644)
}

// tarTree packs the root filesystem into a gzip layer with GNU tar, which
// keeps modes, owners and links as unpacked. Entries are named without a
// leading "./" (the top-level names are listed), as image layers are.
func tarTree(ctx context.Context, rootfs, out string) error {
	entries, err := os.ReadDir(rootfs)
	if err != nil {
		return err
	}
	args := []string{"--create", "--gzip", "--numeric-owner", "--file", out, "--directory", rootfs}
	for _, e := range entries {
		args = append(args, e.Name())
	}
	return run(ctx, "", "tar", args...)
}

// packageClosure lists pkgs and everything they depend on, recursively.
// Alternatives ("a | b") are all listed, which only makes the image larger.
func packageClosure(ctx context.Context, pkgs []string) ([]string, error) {
	args := append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests",
		"--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"}, pkgs...)
	out, err := exec.CommandContext(ctx, "apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends: %w (run hack/install-node-deps.sh)", err)
	}
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		// Package names start a line; dependency lines are indented and
		// virtual packages are shown as <name>.
		if line == "" || line[0] == ' ' || line[0] == '<' || seen[line] {
			continue
		}
		seen[line] = true
		names = append(names, strings.TrimSpace(line))
	}
	return names, sc.Err()
}
