package doctor

import (
	"io"
	"strings"
	"testing"
)

func TestParseFlags_UsageErrors(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"kubectl's short forms are accepted": {args: []string{"-n", "app", "-o", "json"}},
		"-n and -A exclude each other":       {args: []string{"-n", "app", "-A"}, wantErr: "exclude each other"},
		"an unknown output is named":         {args: []string{"-o", "yaml"}, wantErr: `"yaml" is not table or json`},
		"arguments are refused":              {args: []string{"pods"}, wantErr: "takes no arguments"},
		"an unknown flag is refused":         {args: []string{"--frobnicate"}, wantErr: "not defined"},
		"the policy mode can be named":       {args: []string{"--mode", "policy"}},
		"an unknown mode is named":           {args: []string{"--mode", "sidecar"}, wantErr: `--mode: "sidecar" is not auto, webhook or policy`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFlags(tc.args, io.Discard)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseFlags_DefaultsAreTheChartsNames(t *testing.T) {
	cfg, err := ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.WebhookNamespace, cfg.Deployment, cfg.Service, cfg.CertSecret, cfg.WebhookConfig}
	want := []string{"sidekiq-probe", "sidekiq-probe-webhook", "sidekiq-probe-webhook", "sidekiq-probe-webhook-certs", "sidekiq-probe"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("defaults %q, want the chart's %q", got, want)
	}
}
