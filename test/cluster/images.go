package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
)

// buildImages writes the image tarballs the cluster imports and returns
// their paths: the pause image, the project's image and, when asked, the
// Sidekiq image. Our own binaries are built fresh (fast with a warm Go cache)
// so a test never runs a stale sidecar.
func buildImages(ctx context.Context, root, cache string, sidekiq bool) ([]string, error) {
	bin := filepath.Join(cache, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	for out, pkg := range map[string]string{
		"pause":                 "./test/cluster/pause",
		"sidekiq-probe-webhook": "./cmd/sidekiq-probe-webhook",
		"sidekiq-probe":         "./cmd/sidekiq-probe",
	} {
		if err := goBuild(ctx, root, filepath.Join(bin, out), pkg); err != nil {
			return nil, err
		}
	}

	pauseLayer := filepath.Join(cache, "pause.layer.tar")
	if err := binariesLayer(pauseLayer, map[string]string{"pause": filepath.Join(bin, "pause")}); err != nil {
		return nil, err
	}
	// The same layout as the Dockerfile: both binaries at the root, CA roots,
	// UID 65532, the webhook as entrypoint.
	probeLayer := filepath.Join(cache, "probe.layer.tar")
	if err := binariesLayer(probeLayer, map[string]string{
		"sidekiq-probe-webhook": filepath.Join(bin, "sidekiq-probe-webhook"),
		"sidekiq-probe":         filepath.Join(bin, "sidekiq-probe"),
	}); err != nil {
		return nil, err
	}
	images := []image{
		{name: PauseImage, layers: []string{pauseLayer}, entrypoint: []string{"/pause"}},
		{name: ProbeImage, layers: []string{probeLayer}, entrypoint: []string{"/sidekiq-probe-webhook"}, user: "65532:65532"},
	}

	if sidekiq {
		base, err := sidekiqBaseLayer(ctx, cache)
		if err != nil {
			return nil, err
		}
		app, err := sidekiqAppLayer(root, cache)
		if err != nil {
			return nil, err
		}
		images = append(images, image{
			name:       SidekiqImage,
			layers:     []string{base, app},
			entrypoint: []string{"sidekiq", "-r", "/app/app.rb"},
			workingDir: "/app",
			// Not root, like a real app image: a pod that does not state
			// its UID runs Sidekiq as 1000, which the webhook cannot see.
			user: "1000:1000",
		})
	}

	var archives []string
	for _, img := range images {
		path := filepath.Join(cache, strings.ReplaceAll(filepath.Base(img.name), ":", "_")+".tar")
		if err := img.writeArchive(path); err != nil {
			return nil, err
		}
		archives = append(archives, path)
	}
	return archives, nil
}

// sidekiqAppLayer copies the Ruby test app (test/sidekiqapp) to /app.
func sidekiqAppLayer(root, cache string) (string, error) {
	path := filepath.Join(cache, "sidekiqapp.layer.tar")
	l, err := newLayer(path)
	if err != nil {
		return "", err
	}
	if err := l.addDir("app", 0o755); err != nil {
		return "", err
	}
	files, _ := filepath.Glob(filepath.Join(root, "test", "sidekiqapp", "*.rb"))
	for _, f := range files {
		if err := l.addFile("app/"+filepath.Base(f), f, 0o644); err != nil {
			return "", err
		}
	}
	return path, l.close()
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	cmd := []string{"build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg}
	return runEnv(ctx, root, []string{"CGO_ENABLED=0"}, "go", cmd...)
}
