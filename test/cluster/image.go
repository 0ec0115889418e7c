package cluster

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Image names carry no registry host: containerd normalises them the same
// way when importing and when a pod names them.
const (
	PauseImage   = "local/pause:1"
	ProbeImage   = "sidekiq-probe/sidekiq-probe:test"
	SidekiqImage = "local/sidekiq:test"
)

// image is a container image made of local layer tarballs.
type image struct {
	name       string
	layers     []string // uncompressed layer tars, lowest first
	entrypoint []string
	cmd        []string
	user       string
	workingDir string
	env        []string
}

// writeArchive writes img as a docker-archive tarball (a manifest.json, a
// config and the layer tars), the format `ctr images import` reads.
func (img image) writeArchive(path string) error {
	var diffIDs, layerNames []string
	for i, l := range img.layers {
		d, err := fileDigest(l)
		if err != nil {
			return err
		}
		diffIDs = append(diffIDs, d)
		layerNames = append(layerNames, fmt.Sprintf("layer%d.tar", i))
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": img.entrypoint,
			"Cmd":        img.cmd,
			"User":       img.user,
			"WorkingDir": img.workingDir,
			"Env":        append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, img.env...),
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   "config.json",
		"RepoTags": []string{img.name},
		"Layers":   layerNames,
	}})
	if err != nil {
		return err
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, data := range map[string][]byte{"manifest.json": manifest, "config.json": config} {
		if err := writeTarFile(tw, name, data); err != nil {
			return err
		}
	}
	for i, l := range img.layers {
		if err := copyTarFile(tw, layerNames[i], l); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func writeTarFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// copyTarFile streams the file at path into tw: layers can be large.
func copyTarFile(tw *tar.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: info.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// binariesLayer writes a layer holding the given static binaries at the root
// (name in image -> host path), plus the host's CA roots when it has them.
func binariesLayer(path string, bins map[string]string) error {
	l, err := newLayer(path)
	if err != nil {
		return err
	}
	for name, src := range bins {
		if err := l.addFile(name, src, 0o755); err != nil {
			return err
		}
	}
	const roots = "/etc/ssl/certs/ca-certificates.crt"
	if _, err := os.Stat(roots); err == nil {
		for _, dir := range []string{"etc", "etc/ssl", "etc/ssl/certs"} {
			if err := l.addDir(dir, 0o755); err != nil {
				return err
			}
		}
		if err := l.addFile(roots[1:], roots, 0o644); err != nil {
			return err
		}
	}
	return l.close()
}
