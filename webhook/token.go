package webhook

import (
	"encoding/base64"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

// tokenBytes is the preStop token's size: 256 bits, twice the 128 a guess
// must beat, for 43 characters of header.
const tokenBytes = 32

// Bounds of a token the webhook keeps: at least 128 bits in URL-safe
// base64 (22 characters), at most what a header value sensibly holds.
const minTokenLen, maxTokenLen = 22, 256

// preStopToken is the token of the pod's sidecar when it already has a
// sound one (an earlier pass, or a template injected by the inject
// command: its pods share the token), else a new one from r. Reusing it is
// what keeps Mutate idempotent.
func preStopToken(spec *corev1.PodSpec, r io.Reader) (string, error) {
	c := findSidecar(spec)
	if c != nil {
		// The last entry of a name is the one the container gets.
		for i := len(c.Env) - 1; i >= 0; i-- {
			if e := c.Env[i]; e.Name == contract.EnvPreStopToken {
				if e.ValueFrom == nil && soundToken(e.Value) {
					return e.Value, nil
				}
				break
			}
		}
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading randomness for the preStop token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// soundToken accepts a token that could carry 128 random bits and that a
// header carries as is: URL-safe base64 characters only. A weaker one (a
// hand-written "secret") is replaced.
func soundToken(s string) bool {
	if len(s) < minTokenLen || len(s) > maxTokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// findSidecar is the pod's sidekiq-probe container, an init container
// (native sidecar) first.
func findSidecar(spec *corev1.PodSpec) *corev1.Container {
	if c := findContainer(spec.InitContainers); c != nil {
		return c
	}
	return findContainer(spec.Containers)
}
