package inject

import (
	"bytes"
	"io"
	"os"
)

// spoolMemory is how much output a spool keeps in memory before it moves
// to a temporary file: a few manifests never touch the disk.
const spoolMemory = 4 << 20

// spool holds the output until every document has passed: nothing is
// printed for an invalid stream (a pipe into kubectl apply would apply
// half of it), yet a big stream is not held in memory.
type spool struct {
	mem  bytes.Buffer
	file *os.File
	err  error
}

func (s *spool) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.file == nil && s.mem.Len()+len(p) > spoolMemory {
		if s.file, s.err = os.CreateTemp("", "sidekiq-probe-inject-*"); s.err != nil {
			return 0, s.err
		}
		// Unlinked at once where the system allows: nothing is left behind.
		_ = os.Remove(s.file.Name())
		if _, s.err = s.mem.WriteTo(s.file); s.err != nil {
			return 0, s.err
		}
	}
	if s.file != nil {
		n, err := s.file.Write(p)
		s.err = err
		return n, err
	}
	return s.mem.Write(p)
}

// copyTo writes everything spooled to w.
func (s *spool) copyTo(w io.Writer) error {
	if s.err != nil {
		return s.err
	}
	if s.file == nil {
		_, err := s.mem.WriteTo(w)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

// Close removes what is spooled.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	name := s.file.Name()
	err := s.file.Close()
	_ = os.Remove(name) // already gone where unlinking an open file works
	return err
}
