package ociimage

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// refNameAnnotation names an image inside an OCI layout. The OCI spec wants
// a tag only; the repository is given on import (`ctr images import
// --base-name`, skopeo's destination, crane's reference).
const refNameAnnotation = "org.opencontainers.image.ref.name"

// tagPattern is the OCI distribution spec's grammar of a tag.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// Platform is one platform of an index and its image.
type Platform struct {
	Platform v1.Platform
	Image    v1.Image
}

// Index makes a multi-platform image index of images.
func Index(images ...Platform) v1.ImageIndex {
	adds := make([]mutate.IndexAddendum, 0, len(images))
	for _, img := range images {
		p := img.Platform
		adds = append(adds, mutate.IndexAddendum{Add: img.Image, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.AppendManifests(empty.Index, adds...)
}

// WriteArchive writes idx, named tag, as an OCI layout tar at path. The
// layout is written by go-containerregistry into a scratch folder and then
// packed; the archive replaces path only once complete.
func WriteArchive(path, tag string, idx v1.ImageIndex) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("image tag %q: want 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", tag)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := l.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	tmp := path + ".tmp"
	if err := tarFolder(dir, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// ArchiveTag returns the tag of the one image an OCI archive holds.
func ArchiveTag(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s: no index.json: %w", path, err)
		}
		if hdr.Name != "index.json" {
			continue
		}
		idx, err := v1.ParseIndexManifest(io.LimitReader(tr, 1<<20))
		if err != nil {
			return "", fmt.Errorf("%s: index.json: %w", path, err)
		}
		if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[refNameAnnotation] == "" {
			return "", fmt.Errorf("%s: want one tagged image, index.json lists %d", path, len(idx.Manifests))
		}
		return idx.Manifests[0].Annotations[refNameAnnotation], nil
	}
}

// tarFolder packs the layout folder into a tar, entries in lexical order
// (filepath.WalkDir's) with zero timestamps, so it is reproducible.
func tarFolder(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel) + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		}
		return copyIntoTar(tw, File{Path: filepath.ToSlash(rel), Src: p, Mode: 0o644})
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
