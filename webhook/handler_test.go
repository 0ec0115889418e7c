package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestHandler_HTTP sends real AdmissionReview JSON over HTTP to the
// Handler's own ServeHTTP (review.go), as the API server sends it;
// controller-runtime's admission.Webhook is not on this path.
func TestHandler_HTTP(t *testing.T) {
	tests := map[string]struct {
		pod       string // a testdata input
		namespace string
		operation admissionv1.Operation
		dryRun    bool

		wantAllowed  bool
		wantPatch    bool
		wantMessage  string // a part of the denial message
		wantWarnings int
		wantResult   Result
		wantSkip     SkipReason
	}{
		"an annotated pod is patched with a JSON patch and warned about the missing max-job-seconds": {
			pod: "pod-plain", wantAllowed: true, wantPatch: true, wantWarnings: 1, wantResult: Injected,
		},
		"a pod without the annotation is allowed untouched": {
			pod: "pod-not-annotated", wantAllowed: true, wantResult: Skipped, wantSkip: NotAnnotated,
		},
		"an invalid annotation is denied with the annotation, value and accepted values": {
			pod: "invalid-max-job-not-a-number", wantResult: Denied,
			wantMessage: `sidekiq-probe.io/max-job-seconds: "ten" is not accepted: an integer 1..86400`,
		},
		"a port already declared by sidekiq_alive is denied": {
			pod: "invalid-port-taken-by-sidekiq-alive", wantResult: Denied, wantMessage: `container "worker" declares 7433`,
		},
		"a dry run is answered like a real request": {
			pod: "pod-plain", dryRun: true, wantAllowed: true, wantPatch: true, wantWarnings: 1, wantResult: Injected,
		},
		"an already injected pod is allowed without a patch": {
			pod: "pod-already-injected", wantAllowed: true, wantWarnings: 1, wantResult: Unchanged, wantSkip: AlreadyInjected,
		},
		"a pod of the webhook's own namespace is never injected": {
			pod: "pod-plain", namespace: "sidekiq-probe-system", wantAllowed: true, wantResult: Skipped, wantSkip: OwnNamespace,
		},
		"an update is not injected": {
			pod: "pod-plain", operation: admissionv1.Update, wantAllowed: true, wantResult: Skipped, wantSkip: NotPodCreate,
		},
		"unknown fields of the pod are not removed by the patch": {
			pod: "pod-unknown-fields-kept", wantAllowed: true, wantPatch: true, wantResult: Injected,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var decisions []Decision
			h, err := NewHandler(testOptions(tc.pod), "sidekiq-probe-system")
			if err != nil {
				t.Fatal(err)
			}
			h.Observe = func(_ context.Context, d Decision) {
				mu.Lock()
				defer mu.Unlock()
				decisions = append(decisions, d)
			}
			server := httptest.NewServer(h)
			t.Cleanup(server.Close)

			raw := readJSON(t, "testdata/"+tc.pod+".in.yaml")
			ns := tc.namespace
			if ns == "" {
				ns = "shop"
			}
			op := tc.operation
			if op == "" {
				op = admissionv1.Create
			}
			review := admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request: &admissionv1.AdmissionRequest{
					UID:       "7f0c4a7e-1111-4d5e-9a0b-000000000001",
					Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
					Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
					Namespace: ns,
					Operation: op,
					DryRun:    ptr.To(tc.dryRun),
					Object:    runtime.RawExtension{Raw: raw},
				},
			}
			resp := post(t, server.URL, review)

			if resp.UID != review.Request.UID {
				t.Errorf("response UID %q, want the request's %q", resp.UID, review.Request.UID)
			}
			if resp.Allowed != tc.wantAllowed {
				t.Errorf("allowed = %v, want %v (result %+v)", resp.Allowed, tc.wantAllowed, resp.Result)
			}
			if tc.wantMessage != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tc.wantMessage)) {
				t.Errorf("message %+v does not contain %q", resp.Result, tc.wantMessage)
			}
			if len(resp.Warnings) != tc.wantWarnings {
				t.Errorf("warnings %q, want %d", resp.Warnings, tc.wantWarnings)
			}
			if !tc.wantPatch && (resp.PatchType != nil || len(resp.Patch) != 0) {
				t.Errorf("unexpected patch %s", resp.Patch)
			}
			if tc.wantPatch {
				if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
					t.Fatalf("patch type %v, want JSONPatch", resp.PatchType)
				}
				checkPatch(t, raw, resp.Patch, "testdata/"+tc.pod+".out.yaml")
			}

			mu.Lock()
			defer mu.Unlock()
			if len(decisions) != 1 {
				t.Fatalf("Observe called %d times, want once", len(decisions))
			}
			d := decisions[0]
			if d.Result != tc.wantResult || d.SkipReason != tc.wantSkip || d.Namespace != ns {
				t.Errorf("decision %+v, want result %v, skip %v, namespace %q", d, tc.wantResult, tc.wantSkip, ns)
			}
		})
	}
}

// checkPatch applies the patch to the request's object, as the API server
// would, and compares the result with the golden output: the patch carries
// the whole mutation and removes nothing the Go types do not know.
func checkPatch(t *testing.T, raw, patchJSON []byte, golden string) {
	t.Helper()
	var ops []map[string]any
	if err := json.Unmarshal(patchJSON, &ops); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op["op"] == "remove" {
			t.Errorf("patch removes %v", op["path"])
		}
	}
	patched, err := applyPatch(raw, patchJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !sameObject(t, patched, readJSON(t, golden)) {
		t.Errorf("the patched pod differs from %s:\n%s", golden, patched)
	}
}

func post(t *testing.T, url string, review admissionv1.AdmissionReview) *admissionv1.AdmissionResponse {
	t.Helper()
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP status %d", res.StatusCode)
	}
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil {
		t.Fatal("AdmissionReview without a response")
	}
	return out.Response
}

func TestOptions_Validate(t *testing.T) {
	tests := map[string]struct {
		opts Options
		want string // a part of the error, "" for none
	}{
		"the defaults are valid":         {Options{SidecarImage: "img", DefaultMaxJobSeconds: 60}, ""},
		"an empty image is refused":      {Options{DefaultMaxJobSeconds: 60}, "--sidecar-image"},
		"a zero max job time is refused": {Options{SidecarImage: "img"}, "--default-max-job-seconds: 0 is not an integer 1..86400"},
		"a huge max job time is refused": {Options{SidecarImage: "img", DefaultMaxJobSeconds: 86401}, "86401"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.opts.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestHandler_BadObject: the pod is read straight from the request's raw
// object, so whatever is not a v1 Pod in JSON must come back as a clear
// bad request, never as an allowed pod or a panic.
func TestHandler_BadObject(t *testing.T) {
	tests := map[string]struct {
		object      string
		wantMessage string
	}{
		"an empty object is a bad request": {
			object: ``, wantMessage: "request.object is empty: want a v1 Pod in JSON",
		},
		"a YAML object is a bad request": {
			object: "metadata:\n  name: w\n", wantMessage: `request.object is not a JSON object (it starts with 'm')`,
		},
		"a JSON array is a bad request": {
			object: `[{"kind":"Pod"}]`, wantMessage: `it starts with '['`,
		},
		"truncated JSON is a bad request": {
			object: `{"metadata":{"name":"w"`, wantMessage: "request.object is not a v1 Pod in JSON",
		},
		"a field of the wrong type is a bad request": {
			object: `{"spec":{"containers":"worker"}}`, wantMessage: "request.object is not a v1 Pod in JSON",
		},
		"another kind is a bad request": {
			object: `{"apiVersion":"apps/v1","kind":"Deployment"}`, wantMessage: `apiVersion "apps/v1", kind "Deployment" is not accepted: want apiVersion v1, kind Pod`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
			if err != nil {
				t.Fatal(err)
			}
			var got Decision
			h.Observe = func(_ context.Context, d Decision) { got = d }
			resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
				Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create,
				Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(tc.object)},
			}})
			if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusBadRequest {
				t.Fatalf("response %+v, want a bad request", resp.AdmissionResponse)
			}
			if !strings.Contains(resp.Result.Message, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", resp.Result.Message, tc.wantMessage)
			}
			if got.Result != Errored || got.Message != resp.Result.Message {
				t.Errorf("decision %+v, want Errored with the response's message", got)
			}
		})
	}
}

// TestHandler_ObjectWithoutKind: the API server sends the pod as its users
// wrote it, and a pod without kind or apiVersion is still a pod.
func TestHandler_ObjectWithoutKind(t *testing.T) {
	h, err := NewHandler(testOptions("pod-plain"), "sidekiq-probe-system")
	if err != nil {
		t.Fatal(err)
	}
	var pod map[string]any
	if err := json.Unmarshal(readJSON(t, "testdata/pod-plain.in.yaml"), &pod); err != nil {
		t.Fatal(err)
	}
	delete(pod, "kind")
	delete(pod, "apiVersion")
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Operation: admissionv1.Create,
		Namespace: "shop", Object: runtime.RawExtension{Raw: raw},
	}})
	if !resp.Allowed || len(resp.Patches) == 0 {
		t.Fatalf("response %+v, want allowed with a patch", resp.AdmissionResponse)
	}
}
