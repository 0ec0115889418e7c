package probeserver

import (
	"reflect"
	"testing"
	"time"
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
		"Sidekiq 7 adds version and capsules": {
			hash: map[string]string{
				"info": `{"hostname":"web-1","started_at":1700000000,"pid":7,"concurrency":10,"version":"7.3.10","embedded":false,"capsules":{"default":{"concurrency":10}}}`,
				"busy": "0", "beat": "1700000100", "quiet": "true",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 0), StartedAt: time.Unix(1700000000, 0), Concurrency: 10, Quiet: true, Version: "7.3.10"},
		},
		"Sidekiq 8.1.2 moves concurrency to its own field": {
			hash: map[string]string{
				"info": `{"hostname":"web-1","started_at":1700000000,"pid":7,"version":"8.1.2","capsules":{"default":{"weights":{"default":0}}}}`,
				"busy": "1", "beat": "1700000100", "quiet": "false", "concurrency": "8",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 0), StartedAt: time.Unix(1700000000, 0), Busy: 1, Concurrency: 8, Version: "8.1.2"},
		},
		"capsules add up when nothing else names the concurrency": {
			hash: map[string]string{
				"info": `{"started_at":1700000000,"pid":7,"version":"8.0.0","capsules":{"default":{"concurrency":3},"single":{"concurrency":1}}}`,
				"busy": "0", "beat": "1700000100", "quiet": "false",
			},
			want: &Heartbeat{Beat: time.Unix(1700000100, 0), StartedAt: time.Unix(1700000000, 0), Concurrency: 4, Version: "8.0.0"},
		},
		"an expired hash is no heartbeat": {hash: map[string]string{}, want: nil},
		"a broken info is an error": {
			hash: map[string]string{"info": "{", "busy": "0", "beat": "1"}, wantErr: true,
		},
		"a beat that is not a number is an error": {
			hash: map[string]string{"info": "{}", "busy": "0", "beat": "soon"}, wantErr: true,
		},
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
