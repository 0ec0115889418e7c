// Package inject is the "inject" command: it runs the webhook's mutation on
// manifests, like istioctl kube-inject or linkerd inject, so the result can
// be read, diffed and applied without the webhook.
package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"

	"sidekiq-probe.io/sidekiq-probe/webhook"
)

// Config is the command line of the inject command.
type Config struct {
	File    string // a path, or "-" for standard input
	Output  string // "yaml" or "json"
	Options webhook.Options
}

// parseConfig reads the command line over base, which gives the flags'
// defaults and what no flag sets (where tokens come from).
func parseConfig(args []string, base webhook.Options, stderr io.Writer) (Config, error) {
	cfg := Config{Options: base}
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sidekiq-probe-webhook inject -f FILE|- [flags]\n\n"+
			"Injects the sidekiq-probe sidecar into every pod template annotated\n"+
			webhook.AnnotationInject+`: "true" and prints the result; other objects pass through.`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.File, "f", "", "manifest file to read, - for standard input (YAML or JSON, several documents, v1 List)")
	fs.StringVar(&cfg.Output, "o", "yaml", "output format: yaml or json")
	fs.StringVar(&cfg.Options.SidecarImage, "sidecar-image", base.SidecarImage, "image of the sidecar container")
	fs.BoolVar(&cfg.Options.NativeSidecar, "native-sidecar", true, "inject a native sidecar (init container with restartPolicy Always); false: a regular container")
	fs.IntVar(&cfg.Options.DefaultMaxJobSeconds, "default-max-job-seconds", webhook.DefaultMaxJobSeconds, "max job time for pods without "+webhook.AnnotationMaxJobSeconds)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q: the manifest is given with -f", fs.Args()))
	}
	if cfg.File == "" {
		errs = append(errs, errors.New(`-f: required: a file, or "-" for standard input`))
	}
	if cfg.Output != "yaml" && cfg.Output != "json" {
		errs = append(errs, fmt.Errorf(`-o: %q is not accepted: "yaml" or "json"`, cfg.Output))
	}
	errs = append(errs, cfg.Options.Validate())
	return cfg, errors.Join(errs...)
}

// Main runs the command and returns its exit status: 0 when done, 1 when an
// object is invalid (nothing is printed then), 2 for a bad command line.
// base.SidecarImage is the default of --sidecar-image; base.Random is where
// preStop tokens come from (nil: crypto/rand).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, base webhook.Options) int {
	cfg, err := parseConfig(args, base, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	in := stdin
	if cfg.File != "-" {
		f, err := os.Open(cfg.File)
		if err != nil {
			fmt.Fprintln(stderr, "error:", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	out := &spool{}
	defer out.Close()
	if err := run(cfg, in, out, stderr); err != nil {
		printErrors(stderr, err)
		return 1
	}
	if err := out.copyTo(stdout); err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	return 0
}

// printErrors prints each error of a joined error on its own "error:" line.
func printErrors(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(w, "error:", line)
	}
}

// run injects the documents of in one at a time and writes each to out
// while none has failed; it returns every error. A stream that cannot be
// read any further ends at its first unreadable document.
func run(cfg Config, in io.Reader, out io.Writer, stderr io.Writer) error {
	docs := newDocuments(in)
	var errs []error
	for written := 0; ; {
		doc, n, err := docs.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
		if doc, err = injectDocument(doc, n, cfg.Options, stderr); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(errs) > 0 {
			continue // nothing is printed now: only the other errors matter
		}
		if err := writeDocument(out, doc, cfg.Output, written > 0); err != nil {
			return err
		}
		written++
	}
	return errors.Join(errs...)
}

// writeDocument writes one document as YAML ("---" before all but the
// first) or as indented JSON.
func writeDocument(w io.Writer, doc []byte, format string, separate bool) error {
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, doc, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := buf.WriteTo(w)
		return err
	}
	y, err := yaml.JSONToYAML(doc)
	if err != nil {
		return err
	}
	if separate {
		y = append([]byte("---\n"), y...)
	}
	_, err = w.Write(y)
	return err
}
