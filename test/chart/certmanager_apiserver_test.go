package chart_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"sidekiq-probe.io/sidekiq-probe/internal/testkit"
)

// cert-manager's controllers cannot be built here, but its CRDs can be
// installed (`make deps` copies them from its Go module): the API server
// then judges the chart's Issuers and Certificates by cert-manager's own
// schemas. Strict field validation turns a field the schema does not know
// into an error instead of silently pruning it.
func TestCertManager_ObjectsAcceptedByItsRealCRDs(t *testing.T) {
	t.Parallel()
	crds := certManagerCRDs(t) // before the API server: fail fast when missing
	c := startCluster(t)
	ctx := t.Context()
	dyn, err := dynamic.NewForConfig(c.Config)
	testkit.Must(t, err)
	installAndEstablish(t, dyn, crds)

	// What the chart's capability check asks helm: a cluster with these CRDs
	// advertises cert-manager.io/v1, which --api-versions stands in for.
	testkit.WaitFor(t, time.Minute, "discovery to list cert-manager.io/v1", func() bool {
		_, err := c.Client.Discovery().ServerResourcesForGroupVersion("cert-manager.io/v1")
		return err == nil
	})
	out, err := helm(t, templateArgs(certManagerArgs...)...)
	if err != nil {
		t.Fatalf("helm template %v: %v", certManagerArgs, err)
	}
	objs := decodeUnstructured(t, out)

	_, err = c.Client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	testkit.Must(t, err)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	resource := func(obj *unstructured.Unstructured) dynamic.ResourceInterface {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("no API for %s %s: %v", gvk, obj.GetName(), err)
		}
		if obj.GetNamespace() == "" {
			return dyn.Resource(mapping.Resource)
		}
		return dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	strict := metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict}
	for _, obj := range objs {
		if _, err := resource(obj).Create(ctx, obj, strict); err != nil {
			t.Errorf("the API server refused %s %s from the chart: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	var kinds []string
	for _, obj := range objs {
		kinds = append(kinds, obj.GetKind())
	}
	for _, want := range []string{"Issuer", "Certificate", "MutatingWebhookConfiguration"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("the chart rendered no %s with cert-manager, got %v", want, kinds)
		}
	}

	// The chain as the API server stored it: the CA Issuer signs with the
	// Secret the CA Certificate is written to, and the serving Certificate
	// is issued by that CA Issuer.
	certificates := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"})
	issuers := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"})
	var stored []runtime.Object
	for _, api := range []dynamic.ResourceInterface{certificates.Namespace(namespace), issuers.Namespace(namespace)} {
		list, err := api.List(ctx, metav1.ListOptions{})
		testkit.Must(t, err)
		for i := range list.Items {
			stored = append(stored, &list.Items[i])
		}
	}
	chain := certManagerChain(t, stored)
	if got, want := nestedString(t, chain.caIssuer, "spec", "ca", "secretName"), nestedString(t, chain.ca, "spec", "secretName"); got != want {
		t.Errorf("stored CA Issuer signs with Secret %q, want the CA Certificate's secretName %q", got, want)
	}
	if got, want := issuerRef(t, chain.ca), "Issuer/"+chain.selfSigned.GetName(); got != want {
		t.Errorf("stored CA Certificate issued by %s, want %s", got, want)
	}
	if got, want := issuerRef(t, chain.serving), "Issuer/"+chain.caIssuer.GetName(); got != want {
		t.Errorf("stored serving Certificate issued by %s, want %s", got, want)
	}

	// cert-manager's CA injector reads the annotation as namespace/name of a
	// Certificate and copies ca.crt of its Secret; it must name the stored
	// serving Certificate, whose ca.crt is the CA.
	mwc := objs[slices.Index(kinds, "MutatingWebhookConfiguration")]
	if got, want := mwc.GetAnnotations()["cert-manager.io/inject-ca-from"], namespace+"/"+chain.serving.GetName(); got != want {
		t.Errorf("cert-manager.io/inject-ca-from %q, want the stored serving Certificate %q", got, want)
	}

	// The schemas really judge: a Certificate that breaks them is refused.
	var cert *unstructured.Unstructured
	for _, obj := range objs {
		if obj.GetKind() == "Certificate" && obj.GetName() == chain.serving.GetName() {
			cert = obj
		}
	}
	tests := map[string]struct {
		change  func(spec map[string]any)
		wantErr string
	}{
		"a field cert-manager does not know is refused": {
			change:  func(spec map[string]any) { spec["dnsName"] = "typo" },
			wantErr: `unknown field "spec.dnsName"`,
		},
		"an isCA that is no boolean is refused": {
			change:  func(spec map[string]any) { spec["isCA"] = "yes" },
			wantErr: "spec.isCA",
		},
		"a private key algorithm outside its enum is refused": {
			change:  func(spec map[string]any) { spec["privateKey"].(map[string]any)["algorithm"] = "DSA" },
			wantErr: "spec.privateKey.algorithm",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			broken := cert.DeepCopy()
			broken.SetName("")
			broken.SetGenerateName("broken-")
			tc.change(broken.Object["spec"].(map[string]any))
			_, err := resource(broken).Create(ctx, broken, strict)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// certManagerCRDs reads cert-manager's CRDs from bin/certmanager/crds.
func certManagerCRDs(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	dir := filepath.Join(testkit.RepoRoot(t), "bin", "certmanager", "crds")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	testkit.Must(t, err)
	if len(files) == 0 {
		t.Fatalf("cert-manager's CRDs are missing in %s: run `make deps`, it copies them there", dir)
	}
	var crds []*unstructured.Unstructured
	for _, file := range files {
		content, err := os.ReadFile(file)
		testkit.Must(t, err)
		crds = append(crds, decodeUnstructured(t, string(content))...)
	}
	return crds
}

// installAndEstablish creates the CRDs and waits until the API server has
// established every one, that is, serves its resources.
func installAndEstablish(t *testing.T, dyn dynamic.Interface, crds []*unstructured.Unstructured) {
	t.Helper()
	api := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, crd := range crds {
		if _, err := api.Create(context.Background(), crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("install CRD %s: %v", crd.GetName(), err)
		}
	}
	for _, crd := range crds {
		testkit.WaitFor(t, time.Minute, "CRD "+crd.GetName()+" to be established", func() bool {
			got, err := api.Get(context.Background(), crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false
			}
			conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			return slices.ContainsFunc(conditions, func(c any) bool {
				cond, _ := c.(map[string]any)
				return cond["type"] == "Established" && cond["status"] == "True"
			})
		})
	}
}

// decodeUnstructured splits a multi-document YAML stream into objects, as the
// API server will get them, skipping empty documents.
func decodeUnstructured(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		testkit.Must(t, err)
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}
