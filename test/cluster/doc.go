// Package cluster runs a real single-node Kubernetes cluster on this machine
// for tests and the demo: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and a kubelet on containerd, built from Go modules and
// Debian packages, with no Docker engine and no registry.
//
// Images are written as OCI archives with go-containerregistry (the product
// image is `make image`'s archive itself) and imported into containerd, so
// pods must use imagePullPolicy: Never. Pods get addresses on a
// CNI bridge that exists only inside this machine; nothing is forwarded out.
//
// Everything the cluster makes lives under one state folder, and Stop removes
// it all, including what a crashed earlier run left behind. See README.md for
// the settings this needs and why.
package cluster
