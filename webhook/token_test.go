package webhook

import (
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

func TestMutate_PreStopToken(t *testing.T) {
	sound := "kept-token-of-an-earlier-pass-0123456789_abcdef"
	tests := map[string]struct {
		sidecarEnv []corev1.EnvVar // nil: no sidecar yet
		want       string          // "" : a new token
	}{
		"a new pod gets a new token": {},
		"a sound token of our sidecar is kept": {
			sidecarEnv: []corev1.EnvVar{{Name: contract.EnvPreStopToken, Value: sound}},
			want:       sound,
		},
		"the last of two entries is the one kept, as the container gets it": {
			sidecarEnv: []corev1.EnvVar{{Name: contract.EnvPreStopToken, Value: "x"}, {Name: contract.EnvPreStopToken, Value: sound}},
			want:       sound,
		},
		"a token shorter than 128 bits is replaced": {
			sidecarEnv: []corev1.EnvVar{{Name: contract.EnvPreStopToken, Value: "secret"}},
		},
		"a token a header cannot carry as is is replaced": {
			sidecarEnv: []corev1.EnvVar{{Name: contract.EnvPreStopToken, Value: sound + " \r\nX-Evil: 1"}},
		},
		"a token from a Secret is replaced: the hook's header holds a literal": {
			sidecarEnv: []corev1.EnvVar{{Name: contract.EnvPreStopToken, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{Key: "token"}}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl := &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationInject: "true"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Command: []string{"sidekiq"}}}},
			}
			if tc.sidecarEnv != nil {
				tmpl.Annotations[AnnotationStatus] = StatusInjected
				tmpl.Spec.InitContainers = []corev1.Container{{Name: contract.ContainerName, Env: tc.sidecarEnv}}
			}
			out, _, err := Mutate(tmpl, Options{SidecarImage: "img", NativeSidecar: true, DefaultMaxJobSeconds: 60})
			if err != nil {
				t.Fatal(err)
			}
			env, header := tokens(t, out)
			if env != header {
				t.Errorf("sidecar token %q, preStop header %q: want the same", env, header)
			}
			if tc.want != "" && env != tc.want {
				t.Errorf("token %q, want %q kept", env, tc.want)
			}
			if tc.want == "" {
				if b, err := base64.RawURLEncoding.DecodeString(env); err != nil || len(b) != tokenBytes || tokenBytes < 16 {
					t.Errorf("new token %q: want %d bytes (at least 128 bits) in URL-safe base64 (%v)", env, tokenBytes, err)
				}
			}
		})
	}
}

// tokens returns the sidecar's token and the one the preStop hook sends;
// each must be there exactly once.
func tokens(t *testing.T, tmpl *corev1.PodTemplateSpec) (env, header string) {
	t.Helper()
	var envs, headers []string
	for _, e := range findSidecar(&tmpl.Spec).Env {
		if e.Name == contract.EnvPreStopToken {
			envs = append(envs, e.Value)
		}
	}
	for _, h := range tmpl.Spec.Containers[0].Lifecycle.PreStop.HTTPGet.HTTPHeaders {
		if h.Name == contract.HeaderPreStopToken {
			headers = append(headers, h.Value)
		}
	}
	if len(envs) != 1 || len(headers) != 1 {
		t.Fatalf("%d token variables and %d token headers, want one each", len(envs), len(headers))
	}
	return envs[0], headers[0]
}

func TestMutate_TokensDifferPerPod(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tmpl := &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationInject: "true"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "worker"}}},
		}
		out, _, err := Mutate(tmpl, Options{SidecarImage: "img", DefaultMaxJobSeconds: 60})
		if err != nil {
			t.Fatal(err)
		}
		env, _ := tokens(t, out)
		if seen[env] {
			t.Fatalf("token %q given twice", env)
		}
		seen[env] = true
	}
}

func TestMutate_RandomnessFailureIsAnError(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationInject: "true"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "worker"}}},
	}
	_, _, err := Mutate(tmpl, Options{SidecarImage: "img", DefaultMaxJobSeconds: 60, Random: strings.NewReader("short")})
	var invalid *InvalidError
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &invalid) {
		t.Fatalf("got %v: want the reader's error, not a denial of the pod", err)
	}
}
