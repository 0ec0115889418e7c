package webhook

import (
	"reflect"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
)

// FuzzDecodeJSON holds decodeJSON to the API server's own decoder
// (sigs.k8s.io/json, case-sensitive, integers kept): whatever pod the API
// server reads, the webhook must read too, and read the same. Inputs the
// API server refuses never reach a webhook, so only that direction counts.
func FuzzDecodeJSON(f *testing.F) {
	inputs := goldenFiles(f, ".in.yaml")
	for _, in := range inputs {
		f.Add(readJSON(f, in))
	}
	for _, s := range []string{
		`{"metadata":{"name":"a","name":"b"}}`,                  // a repeated member: the last wins
		`{"Metadata":{"name":"a"},"metadata":{"Name":"b"}}`,     // names match case by case
		"{\"metadata\":{\"name\":\"\xff\xfe\"}}",                // invalid UTF-8
		`{"metadata":{"name":"\u00e9\ud83d\ude00"}}`,            // escapes
		`{"spec":{"terminationGracePeriodSeconds":1e2}}`,        // not an integer
		`{"spec":{"containers":null,"volumes":[]},"status":{}}`, // null and empty lists
		`{"metadata":{"annotations":{"a":null}}}`,               // a null map value
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want, got corev1.Pod
		if kjson.UnmarshalCaseSensitivePreserveInts(doc, &want) != nil {
			return
		}
		if err := decodeJSON(doc, &got); err != nil {
			t.Fatalf("the API server reads %s, decodeJSON refuses it: %v", doc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\ndecodeJSON read  %+v\nthe API server %+v", doc, got, want)
		}
	})
}

// TestDecodeJSON_Review: the benchmark's real review, request and pod, reads
// the same both ways.
func TestDecodeJSON_Review(t *testing.T) {
	review := readJSON(t, benchReview)
	var want, got admissionv1.AdmissionReview
	if err := kjson.UnmarshalCaseSensitivePreserveInts(review, &want); err != nil {
		t.Fatal(err)
	}
	if err := decodeJSON(review, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeJSON read  %+v\nthe API server %+v", got, want)
	}
	var wantPod, gotPod corev1.Pod
	if err := kjson.UnmarshalCaseSensitivePreserveInts(want.Request.Object.Raw, &wantPod); err != nil {
		t.Fatal(err)
	}
	if err := decodeJSON(got.Request.Object.Raw, &gotPod); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotPod, wantPod) {
		t.Fatalf("decodeJSON read  %+v\nthe API server %+v", gotPod, wantPod)
	}
}
