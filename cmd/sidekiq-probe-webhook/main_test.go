package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun_Dispatch(t *testing.T) {
	tests := map[string]struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		"no command prints the usage":         {nil, 2, "usage: sidekiq-probe-webhook doctor|inject|serve"},
		"an unknown command is named":         {[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		"help is not an error":                {[]string{"help"}, 0, "usage:"},
		"inject is dispatched with its flags": {[]string{"inject", "-o", "xml", "-f", "x"}, 2, `-o: "xml" is not accepted`},
		"doctor is dispatched with its flags": {[]string{"doctor", "-o", "xml"}, 2, `--output: "xml" is not table or json`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}
}
