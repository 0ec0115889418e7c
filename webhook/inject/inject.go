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
	out, err := run(cfg, in, stderr)
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
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

// run injects every document of in and returns the output, or every error.
func run(cfg Config, in io.Reader, stderr io.Writer) ([]byte, error) {
	docs, err := readDocuments(in)
	if err != nil {
		return nil, err
	}
	var errs []error
	for i, doc := range docs {
		docs[i], err = injectDocument(doc, cfg.Options, stderr)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return render(docs, cfg.Output)
}

func render(docs [][]byte, format string) ([]byte, error) {
	var buf bytes.Buffer
	for i, doc := range docs {
		if format == "json" {
			if err := json.Indent(&buf, doc, "", "  "); err != nil {
				return nil, err
			}
			buf.WriteByte('\n')
			continue
		}
		y, err := yaml.JSONToYAML(doc)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), nil
}
