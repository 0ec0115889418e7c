// Package ociimage builds container images with go-containerregistry, the
// library behind crane and ko, and writes them as OCI layout archives: tars
// that containerd (`ctr images import`), skopeo (`oci-archive:`), podman and
// crane read. No Docker engine and no registry are involved.
//
// It makes the product image of `make image` (Build: both binaries for
// linux/amd64 and linux/arm64, the layout the Dockerfile describes) and the
// test cluster's own images (test/cluster), which also imports the very
// archive `make image` writes.
package ociimage
