package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestHandler_GoldenPatch sends every golden Pod input through the
// handler's ServeHTTP, as the API server does, and compares the patch it
// answers with <case>.patch.json (parsed, not as bytes), so a reviewer sees
// the exact operations beside the whole pod in <case>.out.yaml. The
// handler's order of operations follows Go's map order, so both sides are
// sorted by path: the operations of one patch touch distinct paths. A case
// answered without a patch has no .patch.json. The patch applied to the
// input must give <case>.out.yaml.
func TestHandler_GoldenPatch(t *testing.T) {
	outputs := goldenFiles(t, ".out.yaml")
	for _, out := range outputs {
		base := strings.TrimSuffix(out, ".out.yaml")
		name := filepath.Base(base)
		raw := readJSON(t, base+".in.yaml")
		var meta metav1.TypeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind != "Pod" {
			continue // the API server sends the webhook pods only
		}
		t.Run(name, func(t *testing.T) {
			patch := handlerPatch(t, name, raw)
			if patch == nil {
				checkAbsent(t, base+".patch.json")
				return
			}
			patched, err := applyPatch(raw, patch)
			if err != nil {
				t.Fatal(err)
			}
			if !sameObject(t, patched, readJSON(t, out)) {
				t.Errorf("the patched pod differs from %s:\n%s", out, patched)
			}
			ops := sortedOps(t, patch)
			if *update {
				indented, err := json.MarshalIndent(ops, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				writeGolden(t, base+".patch.json", string(indented)+"\n")
			}
			want := sortedOps(t, readJSON(t, base+".patch.json"))
			if !reflect.DeepEqual(ops, want) {
				t.Errorf("%s differs from the handler's patch (run go test -update to accept):\n%s", base+".patch.json", patch)
			}
		})
	}
}

// handlerPatch is the JSON patch the handler answers to the creation of
// the pod raw, nil when it answers none.
func handlerPatch(t *testing.T, name string, raw []byte) []byte {
	t.Helper()
	h, err := NewHandler(testOptions(name), "sidekiq-probe-system")
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       "7f0c4a7e-1111-4d5e-9a0b-000000000002",
			Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "shop",
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/mutate-v1-pod", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP status %d: %s", rec.Code, rec.Body)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
		t.Fatal(err)
	}
	if review.Response == nil || !review.Response.Allowed {
		t.Fatalf("not allowed: %+v", review.Response)
	}
	if len(review.Response.Patch) == 0 {
		return nil
	}
	return review.Response.Patch
}

// sortedOps parses a JSON patch and sorts its operations by path.
func sortedOps(t *testing.T, patch []byte) []map[string]any {
	t.Helper()
	var ops []map[string]any
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(ops, func(a, b map[string]any) int {
		return strings.Compare(fmt.Sprint(a["path"]), fmt.Sprint(b["path"]))
	})
	return ops
}
