package cluster

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// layer writes one image layer: an uncompressed tar of files as they appear
// in the container's root filesystem.
type layer struct {
	file *os.File
	tw   *tar.Writer
}

func newLayer(path string) (*layer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &layer{file: f, tw: tar.NewWriter(f)}, nil
}

// addFile copies the host file src to name (a path inside the image).
func (l *layer) addFile(name, src string, mode int64) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return l.addBytes(name, data, mode)
}

func (l *layer) addBytes(name string, data []byte, mode int64) error {
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}
	if err := l.tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := l.tw.Write(data)
	return err
}

func (l *layer) addDir(name string, mode int64) error {
	return l.tw.WriteHeader(&tar.Header{Name: name + "/", Mode: mode, Typeflag: tar.TypeDir})
}

// addTree adds every file, folder and symlink under root, keeping modes and
// link targets, so an unpacked root filesystem becomes one layer.
func (l *layer) addTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := l.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(l.tw, f)
		return err
	})
}

func (l *layer) close() error {
	if err := l.tw.Close(); err != nil {
		l.file.Close()
		return err
	}
	return l.file.Close()
}

// fileDigest is a layer's "diff ID": the digest of its uncompressed tar.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
