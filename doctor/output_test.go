package doctor

import (
	"bytes"
	"encoding/json"
	"testing"
)

var sample = []Finding{
	{Check: CheckDeployment, Status: OK, Object: "deployment sidekiq-probe/sidekiq-probe-webhook", Detail: "2/2 replicas available"},
	{Check: CheckPodInjected, Status: Fail, Object: "pod app/worker", Detail: "not injected", Hint: "kubectl label namespace app"},
}

func TestWriteTable_AlignsColumnsAndSummarises(t *testing.T) {
	tests := map[string]struct {
		findings []Finding
		want     string
	}{
		"a failure says something needs action": {
			findings: sample,
			want: "" +
				"CHECK               STATUS  OBJECT                                          DETAIL                  HINT\n" +
				"webhook-deployment  OK      deployment sidekiq-probe/sidekiq-probe-webhook  2/2 replicas available  -\n" +
				"pod-injected        FAIL    pod app/worker                                  not injected            kubectl label namespace app\n" +
				"\n1 OK, 0 WARN, 1 FAIL: something needs action\n",
		},
		"warnings alone are worth a look": {
			findings: []Finding{{Check: CheckSidecarReady, Status: Warn, Object: "pod app/w", Detail: "not ready", Hint: "logs"}},
			want: "" +
				"CHECK          STATUS  OBJECT     DETAIL     HINT\n" +
				"sidecar-ready  WARN    pod app/w  not ready  logs\n" +
				"\n0 OK, 1 WARN, 0 FAIL: nothing failed, some things are worth a look\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteTable(&out, tc.findings); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestWriteJSON_IsOneDocumentScriptsCanRead(t *testing.T) {
	tests := map[string]struct {
		findings    []Finding
		needsAction bool
		count       int
	}{
		"a failure needs action":                 {findings: sample, needsAction: true, count: 2},
		"no findings is an empty list, not null": {findings: nil, needsAction: false, count: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := WriteJSON(&out, tc.findings); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				NeedsAction *bool            `json:"needsAction"`
				Findings    []map[string]any `json:"findings"`
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			if doc.NeedsAction == nil || *doc.NeedsAction != tc.needsAction || doc.Findings == nil || len(doc.Findings) != tc.count {
				t.Fatalf("got %s", out.String())
			}
			if tc.count > 0 && (doc.Findings[1]["status"] != "FAIL" || doc.Findings[1]["check"] != "pod-injected" || doc.Findings[0]["hint"] != nil) {
				t.Errorf("fields: got %s", out.String())
			}
		})
	}
}
