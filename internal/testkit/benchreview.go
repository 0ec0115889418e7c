package testkit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchReview is the path, from the module root, of the benchmarks'
// AdmissionReview of a 6 KB Rails worker pod (hand-written, encoded as the
// API server encodes it).
const BenchReview = "webhook/testdata/bench/rails-worker.review.json"

// CompactBenchReview returns that review as the API server sends it,
// compacted: 6.5 KB, where the file is indented for reading.
func CompactBenchReview(t testing.TB) []byte {
	t.Helper()
	indented, err := os.ReadFile(filepath.Join(RepoRoot(t), BenchReview))
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, indented); err != nil {
		t.Fatalf("%s: %v", BenchReview, err)
	}
	return compact.Bytes()
}
