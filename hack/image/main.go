// Command image writes the product image, both binaries for linux/amd64 and
// linux/arm64, as an OCI archive, without Docker: `make image` runs it.
//
//	go run ./hack/image [-out bin/image/sidekiq-probe.oci.tar] [-version v] [-platforms linux/amd64,linux/arm64]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"sidekiq-probe.io/sidekiq-probe/internal/ociimage"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var o ociimage.Options
	flag.StringVar(&o.Out, "out", "", "archive to write (default bin/image/sidekiq-probe.oci.tar)")
	flag.StringVar(&o.Version, "version", "", "version stamped into the binaries and the image's tag (default git describe --tags --always --dirty)")
	platforms := flag.String("platforms", strings.Join(ociimage.DefaultPlatforms(), ","), "comma-separated os/arch list")
	flag.StringVar(&o.CARoots, "ca-roots", "", "CA bundle copied to /etc/ssl/certs/ca-certificates.crt (default the host's)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	o.Platforms = strings.Split(*platforms, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	o.Root = root
	res, err := ociimage.Build(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s:%s (%s), %s\n", res.Archive, ociimage.Repository, res.Tag, strings.Join(o.Platforms, ", "), res.Digest)
	return nil
}
