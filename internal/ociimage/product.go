package ociimage

import (
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The product image, as the Dockerfile describes it (TestDockerfileAgrees
// keeps the two in step): both static binaries at the root, CA roots for
// rediss:// and the API server, the unprivileged distroless "nonroot" UID
// without an /etc/passwd, no shell, the webhook as entrypoint. The chart
// picks the binary per container.
const (
	// Repository is the image's name in the chart's defaults; the archive
	// carries only the tag, the repository is given on load or push.
	Repository = "sidekiq-probe/sidekiq-probe"
	Webhook    = "sidekiq-probe-webhook"
	Sidecar    = "sidekiq-probe"
	User       = "65532:65532"
	CARootsIn  = "etc/ssl/certs/ca-certificates.crt"
)

// Entrypoint is the image's entrypoint: the webhook.
func Entrypoint() []string { return []string{"/" + Webhook} }

// productImage is the image of one platform from the binaries built into
// binDir. The layer tar is kept next to them.
func productImage(p v1.Platform, binDir, caRoots string) (v1.Image, error) {
	layer, err := FilesLayer(filepath.Join(binDir, "layer.tar"), []File{
		{Path: Webhook, Src: filepath.Join(binDir, Webhook), Mode: 0o755},
		{Path: Sidecar, Src: filepath.Join(binDir, Sidecar), Mode: 0o755},
		{Path: CARootsIn, Src: caRoots, Mode: 0o644},
	})
	if err != nil {
		return nil, err
	}
	return NewImage(p, v1.Config{Entrypoint: Entrypoint(), User: User}, layer)
}

// NewImage is an OCI image of the layers, lowest first, on nothing (like
// FROM scratch), with cfg as its runtime configuration.
func NewImage(p v1.Platform, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	file, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	file = file.DeepCopy()
	file.OS, file.Architecture, file.Variant = p.OS, p.Architecture, p.Variant
	file.Config = cfg
	return mutate.ConfigFile(img, file)
}
