package probeserver

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
)

func TestParseConfig(t *testing.T) {
	tests := map[string]struct {
		args        []string
		env         map[string]string
		check       func(t *testing.T, c Config)
		errContains []string
	}{
		"defaults match the webhook's": {
			check: func(t *testing.T, c Config) {
				if c.Port != 7433 || c.HeartbeatTimeout != 60*time.Second || c.QuietSignal != syscall.SIGTSTP || c.Redis.URL != "redis://localhost:6379/0" || c.Hostname != "node-host" ||
					c.MaxJobTime != contract.DefaultMaxJobSeconds*time.Second {
					t.Errorf("got %+v", c)
				}
			},
		},
		"the environment fills what the flags leave out": {
			env: map[string]string{"SIDEKIQ_PROBE_PORT": "8000", "SIDEKIQ_PROBE_MAX_JOB_SECONDS": "600", "SIDEKIQ_PROBE_QUIET_SIGNAL": "USR1",
				"REDIS_URL": "redis://r:6379/2", "SIDEKIQ_PROBE_REDIS_NAMESPACE": "app", "POD_NAME": "worker-0"},
			check: func(t *testing.T, c Config) {
				if c.Port != 8000 || c.MaxJobTime != 10*time.Minute || c.QuietSignalName != "USR1" || c.Redis.URL != "redis://r:6379/2" || c.RedisNamespace != "app" || c.Hostname != "worker-0" {
					t.Errorf("got %+v", c)
				}
			},
		},
		"a flag wins over its variable": {
			args: []string{"--port=9000", "--hostname=h"},
			env:  map[string]string{"SIDEKIQ_PROBE_PORT": "8000", "DYNO": "worker.1"},
			check: func(t *testing.T, c Config) {
				if c.Port != 9000 || c.Hostname != "h" {
					t.Errorf("got port %d hostname %q", c.Port, c.Hostname)
				}
			},
		},
		"DYNO wins over the pod name, as in Sidekiq": {
			env: map[string]string{"DYNO": "worker.1", "POD_NAME": "worker-0"},
			check: func(t *testing.T, c Config) {
				if c.Hostname != "worker.1" {
					t.Errorf("hostname %q", c.Hostname)
				}
			},
		},
		"the webhook can name another variable for the URL": {
			env: map[string]string{"SIDEKIQ_PROBE_REDIS_URL_ENV": "SIDEKIQ_REDIS", "SIDEKIQ_REDIS": "unix:///run/r.sock", "REDIS_URL": "redis://wrong"},
			check: func(t *testing.T, c Config) {
				if c.Redis.URL != "unix:///run/r.sock" {
					t.Errorf("url %q", c.Redis.URL)
				}
			},
		},
		"sentinels with a master": {
			env: map[string]string{"REDIS_SENTINELS": "s1:26379,s2:26379", "REDIS_SENTINEL_MASTER": "mymaster"},
			check: func(t *testing.T, c Config) {
				if len(c.Redis.Sentinels) != 2 || c.Redis.SentinelMaster != "mymaster" {
					t.Errorf("got %+v", c.Redis)
				}
			},
		},
		"an outage restart after five minutes": {
			args: []string{"--redis-outage-restart-after=5m"},
			check: func(t *testing.T, c Config) {
				if c.RedisOutageRestartAfter != 5*time.Minute {
					t.Errorf("got %v", c.RedisOutageRestartAfter)
				}
			},
		},
		"a heartbeat timeout below 10 s is refused, naming flag and variable": {
			env:         map[string]string{"SIDEKIQ_PROBE_HEARTBEAT_TIMEOUT_SECONDS": "5"},
			errContains: []string{"--heartbeat-timeout-seconds / SIDEKIQ_PROBE_HEARTBEAT_TIMEOUT_SECONDS", "at least 10"},
		},
		"an unknown quiet signal is refused with the accepted ones": {
			args:        []string{"--quiet-signal=TERM"},
			errContains: []string{"--quiet-signal", "TSTP or USR1"},
		},
		"every bad value is reported at once": {
			args:        []string{"--port=0", "--max-job-seconds=soon"},
			errContains: []string{"--port / SIDEKIQ_PROBE_PORT", "--max-job-seconds / SIDEKIQ_PROBE_MAX_JOB_SECONDS"},
		},
		"a bad Redis URL is refused without showing it": {
			env:         map[string]string{"REDIS_URL": "http://:secret@r"},
			errContains: []string{"--redis-url / $REDIS_URL", "(hidden)"},
		},
		"sentinels without a master are refused": {
			env:         map[string]string{"REDIS_SENTINELS": "s1:26379"},
			errContains: []string{"--redis-sentinel-master"},
		},
		"a redis timeout of a second or more is refused": {
			args:        []string{"--redis-timeout=2s"},
			errContains: []string{"--redis-timeout", "a duration above 0 and below 1s"},
		},
		"the sidecar's max-job-seconds and Sidekiq's shutdown timeout default as the webhook's": {
			check: func(t *testing.T, c Config) {
				if c.MaxJobTime != 60*time.Second || c.ShutdownTimeout != 25*time.Second || c.PreStopToken != "" {
					t.Errorf("max job %v, shutdown timeout %v, token set %v", c.MaxJobTime, c.ShutdownTimeout, c.PreStopToken != "")
				}
			},
		},
		"the webhook's token and shutdown timeout come from the environment": {
			env: map[string]string{"SIDEKIQ_PROBE_PRESTOP_TOKEN": "0123456789abcdef0123456789abcdef", "SIDEKIQ_PROBE_SHUTDOWN_TIMEOUT_SECONDS": "8"},
			check: func(t *testing.T, c Config) {
				if c.PreStopToken != "0123456789abcdef0123456789abcdef" || c.ShutdownTimeout != 8*time.Second {
					t.Errorf("token %q, shutdown timeout %v", string(c.PreStopToken), c.ShutdownTimeout)
				}
			},
		},
		"a token flag wins over the variable": {
			args: []string{"--prestop-token=chosen-by-hand-0123456789"},
			env:  map[string]string{"SIDEKIQ_PROBE_PRESTOP_TOKEN": "0123456789abcdef0123456789abcdef"},
			check: func(t *testing.T, c Config) {
				if c.PreStopToken != "chosen-by-hand-0123456789" {
					t.Errorf("token %q", string(c.PreStopToken))
				}
			},
		},
		"a short token is refused without showing it": {
			env:         map[string]string{"SIDEKIQ_PROBE_PRESTOP_TOKEN": "secret"},
			errContains: []string{"--prestop-token / SIDEKIQ_PROBE_PRESTOP_TOKEN", "(hidden)", "16 to 512"},
		},
		"a token with a space is refused without showing it": {
			args:        []string{"--prestop-token=secret secret secret"},
			errContains: []string{"--prestop-token", "(hidden)", "no spaces"},
		},
		"a shutdown timeout of zero is refused": {
			args:        []string{"--shutdown-timeout-seconds=0"},
			errContains: []string{"--shutdown-timeout-seconds / SIDEKIQ_PROBE_SHUTDOWN_TIMEOUT_SECONDS", "at least 1"},
		},
		"an unknown flag is refused": {
			args:        []string{"--colour=blue"},
			errContains: []string{"colour"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, err := ParseConfig(tc.args, getenv, func() (string, error) { return "node-host", nil })
			if len(tc.errContains) > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				for _, s := range tc.errContains {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
