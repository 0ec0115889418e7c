package ociimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// TestMakeImage_WritesTheDockerfilesImageForBothPlatforms runs what `make
// image` runs, to the same archive (cheap once built: go build relinks only
// what changed), and reads the archive back with go-containerregistry: one
// index named by its tag, linux/amd64 and linux/arm64, each with both static
// binaries for its machine, the CA roots, UID 65532, the webhook as
// entrypoint and nothing else (no shell, no /etc/passwd).
//
// The command runs outside this -race binary, where gzip is several times
// slower; for the same reason the layers are read from the uncompressed
// tars Build keeps, matched to the image by their diff IDs.
func TestMakeImage_WritesTheDockerfilesImageForBothPlatforms(t *testing.T) {
	root := testkit.RepoRoot(t)
	began := time.Now()
	cmd := exec.Command("go", "run", "./hack/image")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, out)
	}
	t.Logf("built in %s", time.Since(began).Round(time.Millisecond))
	idx := readArchive(t, DefaultArchive(root), gitVersion(context.Background(), root))
	// What a registry or a runtime checks: the manifests' and configs'
	// digests, sizes and media types (containerd checks the layers'
	// digests when test/cluster imports this archive).
	if err := validate.Index(idx, validate.Fast); err != nil {
		t.Errorf("the archive's index is not valid: %v", err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, desc := range manifest.Manifests {
		platforms = append(platforms, desc.Platform.String())
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		layerTar := filepath.Join(filepath.Dir(DefaultArchive(root)), desc.Platform.OS+"_"+desc.Platform.Architecture, "layer.tar")
		checkProductImage(t, *desc.Platform, img, layerTar)
	}
	if !slices.Equal(platforms, DefaultPlatforms()) {
		t.Errorf("platforms %v, want %v", platforms, DefaultPlatforms())
	}
}

// readArchive unpacks an OCI archive and returns the one index it names
// tag, checking the layout's media types on the way.
func readArchive(t *testing.T, archive, tag string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want 1", len(manifest.Manifests))
	}
	desc := manifest.Manifests[0]
	if desc.MediaType != types.OCIImageIndex || desc.Annotations[refNameAnnotation] != tag {
		t.Errorf("index.json's entry: %s named %q, want %s named %q", desc.MediaType, desc.Annotations[refNameAnnotation], types.OCIImageIndex, tag)
	}
	idx, err := top.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func checkProductImage(t *testing.T, p v1.Platform, img v1.Image, layerTar string) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != p.OS || cfg.Architecture != p.Architecture {
		t.Errorf("%s: config says %s/%s", p, cfg.OS, cfg.Architecture)
	}
	if cfg.Config.User != User || !slices.Equal(cfg.Config.Entrypoint, Entrypoint()) || len(cfg.Config.Cmd) > 0 {
		t.Errorf("%s: user %q, entrypoint %q, cmd %q; want %q, %q, none", p, cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Cmd, User, Entrypoint())
	}
	mt, err := img.MediaType()
	if err != nil || mt != types.OCIManifestSchema1 {
		t.Errorf("%s: manifest media type %s (%v), want %s", p, mt, err, types.OCIManifestSchema1)
	}
	data, err := os.ReadFile(layerTar)
	testkit.Must(t, err)
	diffID := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(data))}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != diffID {
		t.Fatalf("%s: diff IDs %v, want the one layer %s", p, cfg.RootFS.DiffIDs, diffID)
	}
	files := tarFiles(t, bytes.NewReader(data))
	want := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", CARootsIn, Sidecar, Webhook}
	if got := sortedKeys(files); !slices.Equal(got, want) {
		t.Errorf("%s: files %q, want %q", p, got, want)
	}
	for _, bin := range []string{Webhook, Sidecar} {
		checkStaticBinary(t, p, bin, files[bin])
	}
}

// tarFiles reads a layer: name -> entry with its content.
func tarFiles(t *testing.T, r io.Reader) map[string]tarEntry {
	t.Helper()
	files := map[string]tarEntry{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = tarEntry{hdr: hdr, data: data}
	}
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// checkStaticBinary: executable by anyone, owned by root, an ELF program for
// the platform's machine without an interpreter (static: there is no libc).
func checkStaticBinary(t *testing.T, p v1.Platform, name string, e tarEntry) {
	t.Helper()
	if e.hdr == nil || e.hdr.Mode != 0o755 || e.hdr.Uid != 0 {
		t.Errorf("%s: /%s: header %+v, want mode 0755 owned by root", p, name, e.hdr)
		return
	}
	f, err := elf.NewFile(strings.NewReader(string(e.data)))
	if err != nil {
		t.Fatalf("%s: /%s: %v", p, name, err)
	}
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Architecture]
	if f.Machine != machine {
		t.Errorf("%s: /%s is for %s, want %s", p, name, f.Machine, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Errorf("%s: /%s is dynamically linked", p, name)
		}
	}
}

// TestWriteArchive_IsReproducible: the same image written twice gives the
// same bytes, so an archive changes only when the image does; ArchiveTag
// reads its tag back.
func TestWriteArchive_IsReproducible(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "x")
	testkit.Must(t, os.WriteFile(exe, []byte("#!/bin/x\n"), 0o755))
	sums := map[string]bool{}
	for i := range 2 {
		layer, err := FilesLayer(filepath.Join(dir, "layer.tar"), []File{{Path: "bin/x", Src: exe, Mode: 0o755}})
		if err != nil {
			t.Fatal(err)
		}
		p := v1.Platform{OS: "linux", Architecture: "amd64"}
		img, err := NewImage(p, v1.Config{Entrypoint: []string{"/bin/x"}}, layer)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "archive.tar")
		if err := WriteArchive(out, "v1", Index(Platform{Platform: p, Image: img})); err != nil {
			t.Fatal(err)
		}
		if tag, err := ArchiveTag(out); err != nil || tag != "v1" {
			t.Errorf("ArchiveTag = %q, %v; want v1", tag, err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[string(sum[:])] = true
		if i == 1 && len(sums) != 1 {
			t.Error("the second archive differs from the first")
		}
	}
}

// TestBuild_RejectsBadOptions: bad input fails before anything is built,
// with an error naming what is wrong.
func TestBuild_RejectsBadOptions(t *testing.T) {
	tests := map[string]struct {
		opts Options
		want string
	}{
		"a version that is not a valid tag is refused":  {Options{Version: "1.0+build"}, `version "1.0+build"`},
		"a version starting with a dot is refused":      {Options{Version: ".1"}, `version ".1"`},
		"a platform without an architecture is refused": {Options{Version: "v1", Platforms: []string{"amd64"}}, `platform "amd64"`},
		"a missing CA bundle is refused with its path":  {Options{Version: "v1", CARoots: "/nonexistent/ca.crt"}, "/nonexistent/ca.crt"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.opts.Root = t.TempDir()
			tc.opts.Out = filepath.Join(tc.opts.Root, "out.tar")
			_, err := Build(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			testkit.Must(t, os.MkdirAll(path, 0o755))
			continue
		}
		data, err := io.ReadAll(tr)
		testkit.Must(t, err)
		testkit.Must(t, os.WriteFile(path, data, 0o644))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
