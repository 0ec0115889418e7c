package ociimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options configure Build. Only Root is required.
type Options struct {
	// Root is the checkout (the folder holding go.mod).
	Root string
	// Out is the archive; default bin/image/sidekiq-probe.oci.tar.
	Out string
	// Version is stamped into both binaries (main.version) and is the
	// image's tag; default `git describe --tags --always --dirty`, as the
	// Makefile's VERSION, or "dev" outside git.
	Version string
	// Platforms default to DefaultPlatforms.
	Platforms []string
	// CARoots is the CA bundle copied to /etc/ssl/certs; default the host's
	// /etc/ssl/certs/ca-certificates.crt (Debian's, as the Dockerfile's).
	CARoots string
}

// DefaultPlatforms are the platforms `make image` builds.
func DefaultPlatforms() []string { return []string{"linux/amd64", "linux/arm64"} }

// DefaultArchive is where `make image` writes the archive, under root.
func DefaultArchive(root string) string {
	return filepath.Join(root, "bin", "image", "sidekiq-probe.oci.tar")
}

// Result is what Build wrote.
type Result struct {
	Archive string
	// Tag is the image's tag in the archive (the version).
	Tag string
	// Digest is the image index's digest, what a registry reports after a push.
	Digest v1.Hash
}

// Build compiles both binaries for every platform (static, CGO_ENABLED=0,
// into bin/image/<os>_<arch>/, where go build relinks only what changed)
// and writes the multi-platform image as an OCI archive.
func Build(ctx context.Context, o Options) (Result, error) {
	o, err := o.withDefaults(ctx)
	if err != nil {
		return Result{}, err
	}
	platforms, err := o.check()
	if err != nil {
		return Result{}, err
	}
	// `make image` and a test cluster may build at once: they share the
	// binaries' folders.
	unlock, err := lockFile(o.Out + ".lock")
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	var images []Platform
	for _, p := range platforms {
		dir := filepath.Join(filepath.Dir(o.Out), p.OS+"_"+p.Architecture)
		if err := goBuild(ctx, o.Root, dir, p, o.Version); err != nil {
			return Result{}, err
		}
		img, err := productImage(p, dir, o.CARoots)
		if err != nil {
			return Result{}, err
		}
		images = append(images, Platform{Platform: p, Image: img})
	}
	idx := Index(images...)
	if err := WriteArchive(o.Out, o.Version, idx); err != nil {
		return Result{}, err
	}
	digest, err := idx.Digest()
	return Result{Archive: o.Out, Tag: o.Version, Digest: digest}, err
}

func (o Options) withDefaults(ctx context.Context) (Options, error) {
	if o.Out == "" {
		o.Out = DefaultArchive(o.Root)
	}
	if o.Version == "" {
		o.Version = gitVersion(ctx, o.Root)
	}
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms()
	}
	if o.CARoots == "" {
		o.CARoots = "/etc/ssl/certs/ca-certificates.crt"
	}
	return o, os.MkdirAll(filepath.Dir(o.Out), 0o755)
}

// check reports bad options before anything is built, naming the option.
func (o Options) check() ([]v1.Platform, error) {
	if !tagPattern.MatchString(o.Version) {
		return nil, fmt.Errorf("version %q is the image's tag: want 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", o.Version)
	}
	if _, err := os.Stat(o.CARoots); err != nil {
		return nil, fmt.Errorf("CA roots: %w (install the ca-certificates package or name a bundle)", err)
	}
	var platforms []v1.Platform
	for _, name := range o.Platforms {
		p, err := v1.ParsePlatform(name)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want os/arch, such as linux/amd64", name)
		}
		platforms = append(platforms, *p)
	}
	return platforms, nil
}

// lockFile takes an exclusive lock on path until unlock is called.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// gitVersion is the Makefile's VERSION: the same command, the same fallback.
func gitVersion(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// goBuild builds both commands for p into dir with the Makefile's flags.
func goBuild(ctx context.Context, root, dir string, p v1.Platform, version string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version, "-o", dir+string(filepath.Separator),
		"./cmd/"+Webhook, "./cmd/"+Sidecar)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build for %s/%s: %w\n%s", p.OS, p.Architecture, err, out)
	}
	return nil
}
