package ociimage

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is a regular file of a layer, copied from the host.
type File struct {
	// Path inside the image, without the leading slash: "etc/ssl/certs/x".
	Path string
	// Src is the host file copied there.
	Src string
	// Mode is the file's permission bits (0o755 for a program).
	Mode int64
}

// FilesLayer writes a layer holding files (and their parent folders) as a
// tar at out and returns it as a gzip-compressed OCI layer.
//
// go-containerregistry builds layers from tars; its one file-map helper
// (crane.Layer) drops file modes, and programs need their execute bit. The
// tar is reproducible: entries sorted, owned by root, timestamps zero, so
// the same files give the same layer digest.
func FilesLayer(out string, files []File) (v1.Layer, error) {
	if err := writeFilesTar(out, files); err != nil {
		return nil, err
	}
	return LayerFromTar(out)
}

// LayerFromTar returns the layer tar (plain or gzip) at path as an OCI
// layer, compressing it once and keeping the result for the writes.
func LayerFromTar(path string) (v1.Layer, error) {
	return tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

func writeFilesTar(out string, files []File) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, dir := range parentDirs(files) {
		hdr := &tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, file := range sorted {
		if err := copyIntoTar(tw, file); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// parentDirs lists every folder above the files, sorted, parents first.
func parentDirs(files []File) []string {
	seen := map[string]bool{}
	for _, file := range files {
		for dir := path.Dir(file.Path); dir != "." && dir != "/"; dir = path.Dir(dir) {
			seen[dir] = true
		}
	}
	dirs := make([]string, 0, len(seen))
	for dir := range seen {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	return dirs
}

// copyIntoTar streams the host file into tw: programs are tens of MB.
func copyIntoTar(tw *tar.Writer, file File) error {
	src, err := os.Open(file.Src)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: file.Path, Mode: file.Mode, Size: info.Size(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}
