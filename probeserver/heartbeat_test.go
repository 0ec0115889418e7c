package probeserver

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/internal/testsidekiq"
)

func TestParseHeartbeat(t *testing.T) {
	tests := map[string]struct {
		hash    map[string]string
		want    *Heartbeat
		wantErr bool
	}{
		"Sidekiq 6.4 keeps concurrency in info": {
			hash: map[string]string{
				"info": `{"hostname":"web-1","started_at":1700000000.5,"pid":7,"tag":"app","concurrency":5,"queues":["default"],"labels":[],"identity":"web-1:7:0123456789ab"}`,
				"busy": "2", "beat": "1700000100.25", "quiet": "false", "rss": "51200", "rtt_us": "120",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 250e6), StartedAt: time.Unix(1700000000, 500e6), Busy: 2, Concurrency: 5},
		},
		"an embedded Sidekiq says so in info": {
			hash: map[string]string{
				"info": `{"started_at":1700000000,"pid":7,"concurrency":2,"version":"7.3.10","embedded":true}`,
				"busy": "0", "beat": "1700000100", "quiet": "false",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 0), StartedAt: time.Unix(1700000000, 0), Concurrency: 2, Version: "7.3.10", Embedded: true},
		},
		"capsules beyond the bound are left out": {
			hash: map[string]string{
				"info": `{"started_at":1700000000,"pid":7,"version":"8.1.7","capsules":{"` + strings.Repeat("x", 65) + `":{"concurrency":9},"default":{"concurrency":2}}}`,
				"busy": "0", "beat": "1700000100", "quiet": "false", "concurrency": "11",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 0), StartedAt: time.Unix(1700000000, 0), Concurrency: 11, Version: "8.1.7", Capsules: map[string]int{"default": 2}},
		},
		"an expired hash is no heartbeat": {hash: map[string]string{}, want: nil},
		"a broken info is an error": {
			hash: map[string]string{"info": "{", "busy": "0", "beat": "1"}, wantErr: true,
		},
		"a beat that is not a number is an error": {
			hash: map[string]string{"info": "{}", "busy": "0", "beat": "soon"}, wantErr: true,
		},
	}
	started, beat := time.Unix(1700000000, 500e6), time.Unix(1700000100, 250e6)
	for _, v := range testsidekiq.Versions {
		b := testsidekiq.Beat{Hostname: "web-1", PID: 7, StartedAt: started, At: beat, Quiet: true,
			Capsules: map[string]int{"default": 3, "single": 1}, Jobs: []testsidekiq.Job{{Class: "A", RunAt: started}}}
		want := &Heartbeat{Beat: beat, StartedAt: started, Busy: 1, Concurrency: 4, Quiet: true}
		if slices.Contains(v.InfoKeys, "version") {
			want.Version = v.Release
		}
		if slices.Contains(v.InfoKeys, "capsules") {
			want.Capsules = map[string]int{"default": 3, "single": 1}
		}
		tests["the fixture of Sidekiq "+v.Name] = struct {
			hash    map[string]string
			want    *Heartbeat
			wantErr bool
		}{hash: v.Hash(b), want: want}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseHeartbeat(tc.hash)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseHeartbeat() error = %v, wantErr %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseHeartbeat() =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
