package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"sidekiq-probe.io/sidekiq-probe/internal/ociimage"
)

// The images' names start with "localhost/": `ctr images import
// --base-name` stores the name it is given as is, and the CRI looks a pod's
// image up by its normalised name, which for a name with a host is the name
// itself. A name without one would be stored short and looked up long.
const (
	PauseImage   = "localhost/pause:1"
	SidekiqImage = "localhost/sidekiq:test"
	// probeRepository names the product image `make image` writes; its tag
	// is the version (Cluster.ProbeImage).
	probeRepository = "localhost/" + ociimage.Repository
)

// ociArchive is an OCI archive and the repository its tag is imported to.
type ociArchive struct{ path, repository string }

// buildImages writes the OCI archives the cluster imports: the pause image,
// the product image and, when asked, the Sidekiq image, and returns the
// product image's name. The product image is `make image`'s archive
// (bin/image/sidekiq-probe.oci.tar), refreshed first by the command `make
// image` runs: go build relinks only what changed, so a test never runs a
// stale sidecar and the cluster runs exactly what a user loads. (In a -race
// test binary the layers' gzip takes several times longer: 43 s.)
func buildImages(ctx context.Context, root, cache string, sidekiq bool) ([]ociArchive, string, error) {
	if err := run(ctx, root, "go", "run", "./hack/image"); err != nil {
		return nil, "", err
	}
	product := ociimage.DefaultArchive(root)
	tag, err := ociimage.ArchiveTag(product)
	if err != nil {
		return nil, "", err
	}
	archives := []ociArchive{{product, probeRepository}}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, "", err
	}
	pause, err := pauseImage(ctx, root, cache)
	if err != nil {
		return nil, "", err
	}
	archives = append(archives, pause)
	if sidekiq {
		img, err := sidekiqImage(ctx, root, cache)
		if err != nil {
			return nil, "", err
		}
		archives = append(archives, img)
	}
	return archives, probeRepository + ":" + tag, nil
}

// pauseImage is the sandbox image: the pause program alone.
func pauseImage(ctx context.Context, root, cache string) (ociArchive, error) {
	bin := filepath.Join(cache, "pause")
	if err := goBuild(ctx, root, bin, "./test/cluster/pause"); err != nil {
		return ociArchive{}, err
	}
	layer, err := ociimage.FilesLayer(filepath.Join(cache, "pause.layer.tar"),
		[]ociimage.File{{Path: "pause", Src: bin, Mode: 0o755}})
	if err != nil {
		return ociArchive{}, err
	}
	return writeNodeImage(filepath.Join(cache, "pause.oci.tar"), PauseImage,
		v1.Config{Entrypoint: []string{"/pause"}}, layer)
}

// sidekiqConfig runs the Sidekiq image's test app.
var sidekiqConfig = v1.Config{
	Entrypoint: []string{"sidekiq", "-r", "/app/app.rb"},
	WorkingDir: "/app",
	Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
	// Not root, like a real app image: a pod that does not state its UID
	// runs Sidekiq as 1000, which the webhook cannot see.
	User: "1000:1000",
}

// sidekiqImage is Ruby and Debian's Sidekiq with the test app in /app. The
// archive is kept under a name made from its inputs: reading the 87 MB base
// layer's digests again would take a minute in a -race test binary.
func sidekiqImage(ctx context.Context, root, cache string) (ociArchive, error) {
	files, _ := filepath.Glob(filepath.Join(root, "test", "sidekiqapp", "*.rb"))
	key, err := inputsKey(files, sidekiqPackages, sidekiqConfig)
	if err != nil {
		return ociArchive{}, err
	}
	path := filepath.Join(cache, "sidekiq-"+key+".oci.tar")
	if _, err := os.Stat(path); err == nil {
		repository, _ := splitTag(SidekiqImage)
		return ociArchive{path, repository}, nil
	}
	base, err := sidekiqBaseLayer(ctx, cache)
	if err != nil {
		return ociArchive{}, err
	}
	var app []ociimage.File
	for _, f := range files {
		app = append(app, ociimage.File{Path: "app/" + filepath.Base(f), Src: f, Mode: 0o644})
	}
	appLayer, err := ociimage.FilesLayer(filepath.Join(cache, "sidekiqapp.layer.tar"), app)
	if err != nil {
		return ociArchive{}, err
	}
	return writeNodeImage(path, SidekiqImage, sidekiqConfig, base, appLayer)
}

// inputsKey digests what an image is made of: files' names and contents and
// any other values (as JSON).
func inputsKey(files []string, values ...any) (string, error) {
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(data))
		h.Write(data)
	}
	if err := json.NewEncoder(h).Encode(values); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// writeNodeImage writes a single-platform image for this node as an OCI
// archive to be imported as name.
func writeNodeImage(path, name string, cfg v1.Config, layers ...v1.Layer) (ociArchive, error) {
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	img, err := ociimage.NewImage(p, cfg, layers...)
	if err != nil {
		return ociArchive{}, err
	}
	repository, tag := splitTag(name)
	if err := ociimage.WriteArchive(path, tag, ociimage.Index(ociimage.Platform{Platform: p, Image: img})); err != nil {
		return ociArchive{}, err
	}
	return ociArchive{path, repository}, nil
}

// splitTag splits "host/name:tag" (our names have no port) at the tag.
func splitTag(name string) (repository, tag string) {
	i := strings.LastIndex(name, ":")
	return name[:i], name[i+1:]
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg}
	return runEnv(ctx, root, []string{"CGO_ENABLED=0"}, "go", cmd...)
}
