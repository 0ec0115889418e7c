package certs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// Names of the files in the serving directory, as certwatcher expects them.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// writeServingFiles replaces tls.crt and tls.key in dir when they differ.
// Each file is renamed into place so a reader never sees half a file; the
// key goes first, so the last change certwatcher sees completes the pair.
func writeServingFiles(dir string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cert dir: %w", err)
	}
	if err := replaceFile(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	return replaceFile(filepath.Join(dir, CertFile), certPEM, 0o644)
}

func replaceFile(path string, content []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
