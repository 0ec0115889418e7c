package probeserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"sidekiq-probe.io/sidekiq-probe/contract"
	"sidekiq-probe.io/sidekiq-probe/probeserver/redisconn"
)

// Config holds every setting of the sidecar. Each comes from a flag, else from
// the environment variable the webhook sets, else a default.
type Config struct {
	Port int

	Redis          redisconn.Settings
	RedisNamespace string // the redis-namespace gem's prefix (Sidekiq 6.x), without ':'
	// RedisOutageRestartAfter lets liveness fail once Redis has been
	// unreachable this long; 0 never restarts Sidekiq for an outage.
	RedisOutageRestartAfter time.Duration

	HeartbeatTimeout time.Duration
	MaxJobTime       time.Duration
	// ShutdownTimeout is Sidekiq's own -t: how long it may take to stop
	// after SIGTERM. With MaxJobTime it bounds how long a real termination
	// keeps Sidekiq quiet.
	ShutdownTimeout time.Duration
	QuietSignal     syscall.Signal
	QuietSignalName string // "TSTP" or "USR1", as Sidekiq's signal list wants it

	// PreStopToken, when set, must come in contract.HeaderPreStopToken for
	// /prestop to quiet Sidekiq. It prints as "(hidden)".
	PreStopToken Secret

	// Hostname is the first part of Sidekiq's identity: $DYNO, else the pod
	// name, else the host name (which Kubernetes sets to the pod name).
	Hostname string
	ProcRoot string
}

// Variables of the sidecar's settings that the webhook never sets: a user
// sets them on the sidecar (the webhook's own are in package contract).
const (
	EnvRedisNamespace = "SIDEKIQ_PROBE_REDIS_NAMESPACE"
	// EnvRedisOutageRestartAfter, when set to a duration, lets liveness fail
	// after Redis has been unreachable that long (off by default).
	EnvRedisOutageRestartAfter = "SIDEKIQ_PROBE_REDIS_OUTAGE_RESTART_AFTER"
	// EnvRedisSentinels lists Redis Sentinel addresses (host:port, comma
	// separated); with EnvRedisSentinelMaster it replaces the Redis URL's host.
	EnvRedisSentinels      = "REDIS_SENTINELS"
	EnvRedisSentinelMaster = "REDIS_SENTINEL_MASTER"
)

// MinHeartbeatTimeoutSeconds is the smallest timeout accepted, as by the
// webhook's annotation: two beats of Sidekiq up to 6.4, which beats every
// 5 s. It leaves no room for a late beat of Sidekiq 6.5, 7 or 8, which sleep
// 10 s after each beat (10.001-11.34 s apart measured on 7/8), so the
// decision rules judge those by at least 20 s (Rules.timeoutFor).
const MinHeartbeatTimeoutSeconds = 10

// DefaultShutdownTimeoutSeconds is Sidekiq's own default for -t.
const DefaultShutdownTimeoutSeconds = 25

// quietSignals are the signals Sidekiq treats as "stop fetching new jobs".
var quietSignals = map[string]syscall.Signal{"TSTP": syscall.SIGTSTP, "USR1": syscall.SIGUSR1}

// ParseConfig reads the flags in args, falling back to getenv. A bad value
// gives an error naming the flag, its variable and what is accepted.
func ParseConfig(args []string, getenv func(string) string, hostname func() (string, error)) (Config, error) {
	urlEnv := redisURLEnv(getenv)
	var (
		c   Config
		raw rawFlags
	)
	fs := flag.NewFlagSet("sidekiq-probe", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints the returned error once
	defineFlags(fs, &c, &raw, getenv, urlEnv)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	errs := raw.check(&c, urlEnv)
	c.Redis.PoolSize = 4
	if err := c.resolveHostname(getenv, hostname); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// redisURLEnv names the variable that holds the Redis URL.
func redisURLEnv(getenv func(string) string) string {
	urlEnv := contract.DefaultRedisURLEnv
	if v := getenv(contract.EnvRedisURLEnv); v != "" {
		return v
	}
	// Sidekiq itself lets REDIS_PROVIDER name the variable that holds the URL.
	if p := getenv("REDIS_PROVIDER"); p != "" {
		urlEnv = p
	}
	return urlEnv
}

// rawFlags are the flags' values as given, checked by check.
type rawFlags struct {
	port, timeoutSecs, maxJobSecs, stopSecs string
	sentinels, quiet, outage, redisTimeout  string
	token                                   string
}

// defineFlags defines every flag on fs: the strings go to raw, the rest
// straight to c. A flag's default is its variable's value, else a default.
func defineFlags(fs *flag.FlagSet, c *Config, raw *rawFlags, getenv func(string) string, urlEnv string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&raw.port, "port", env(contract.EnvPort, strconv.Itoa(contract.DefaultPort)), "HTTP port ("+contract.EnvPort+")")
	fs.StringVar(&c.Redis.URL, "redis-url", env(urlEnv, "redis://localhost:6379/0"), "Redis URL ($"+urlEnv+")")
	fs.StringVar(&raw.sentinels, "redis-sentinels", getenv(EnvRedisSentinels), "Sentinel host:port list ("+EnvRedisSentinels+")")
	fs.StringVar(&c.Redis.SentinelMaster, "redis-sentinel-master", getenv(EnvRedisSentinelMaster), "Sentinel master name ("+EnvRedisSentinelMaster+")")
	fs.StringVar(&c.RedisNamespace, "redis-namespace", getenv(EnvRedisNamespace), "redis-namespace prefix ("+EnvRedisNamespace+")")
	fs.StringVar(&raw.redisTimeout, "redis-timeout", "400ms", "bound on every Redis call")
	fs.StringVar(&raw.outage, "redis-outage-restart-after", env(EnvRedisOutageRestartAfter, "0"), "fail liveness after Redis is unreachable this long, 0 never ("+EnvRedisOutageRestartAfter+")")
	fs.StringVar(&raw.timeoutSecs, "heartbeat-timeout-seconds", env(contract.EnvHeartbeatTimeoutSeconds, strconv.Itoa(contract.DefaultHeartbeatTimeoutSeconds)), "heartbeat age that fails liveness ("+contract.EnvHeartbeatTimeoutSeconds+")")
	fs.StringVar(&raw.maxJobSecs, "max-job-seconds", env(contract.EnvMaxJobSeconds, strconv.Itoa(contract.DefaultMaxJobSeconds)), "longest wait for running jobs at preStop ("+contract.EnvMaxJobSeconds+")")
	fs.StringVar(&raw.stopSecs, "shutdown-timeout-seconds", env(contract.EnvShutdownTimeoutSeconds, strconv.Itoa(DefaultShutdownTimeoutSeconds)), "Sidekiq's own -t ("+contract.EnvShutdownTimeoutSeconds+")")
	fs.StringVar(&raw.token, "prestop-token", getenv(contract.EnvPreStopToken), "secret /prestop requires in "+contract.HeaderPreStopToken+"; prefer the variable, which ps does not show ("+contract.EnvPreStopToken+")")
	fs.StringVar(&raw.quiet, "quiet-signal", env(contract.EnvQuietSignal, contract.DefaultQuietSignal), "TSTP or USR1 ("+contract.EnvQuietSignal+")")
	fs.StringVar(&c.Hostname, "hostname", "", "host name in Sidekiq's identity (default $DYNO, $"+contract.EnvPodName+", host name)")
	fs.StringVar(&c.ProcRoot, "proc-root", "/proc", "where the shared PID namespace is mounted")
}

// check parses the raw values into c and returns one error per bad value.
func (raw rawFlags) check(c *Config, urlEnv string) []error {
	var errs []error
	bad := func(flagName, envName, value, want string) {
		if envName != "" {
			flagName += " / " + envName
		}
		errs = append(errs, fmt.Errorf("--%s %q: want %s", flagName, value, want))
	}
	var err error
	if c.Port, err = strconv.Atoi(raw.port); err != nil || c.Port < 1 || c.Port > 65535 {
		bad("port", contract.EnvPort, raw.port, "a port number 1-65535")
	}
	c.HeartbeatTimeout = seconds(bad, "heartbeat-timeout-seconds", contract.EnvHeartbeatTimeoutSeconds, raw.timeoutSecs, MinHeartbeatTimeoutSeconds)
	c.MaxJobTime = seconds(bad, "max-job-seconds", contract.EnvMaxJobSeconds, raw.maxJobSecs, 1)
	c.ShutdownTimeout = seconds(bad, "shutdown-timeout-seconds", contract.EnvShutdownTimeoutSeconds, raw.stopSecs, 1)
	if c.PreStopToken, err = parseToken(raw.token); err != nil {
		bad("prestop-token", contract.EnvPreStopToken, "(hidden)", err.Error())
	}
	if sig, ok := quietSignals[raw.quiet]; ok {
		c.QuietSignal, c.QuietSignalName = sig, raw.quiet
	} else {
		bad("quiet-signal", contract.EnvQuietSignal, raw.quiet, "TSTP or USR1")
	}
	if c.RedisOutageRestartAfter, err = time.ParseDuration(raw.outage); err != nil || c.RedisOutageRestartAfter < 0 {
		bad("redis-outage-restart-after", EnvRedisOutageRestartAfter, raw.outage, `a duration such as "5m", or 0 to never restart`)
	}
	raw.checkRedis(c, urlEnv, bad)
	return errs
}

// checkRedis parses the Redis settings into c.
func (raw rawFlags) checkRedis(c *Config, urlEnv string, bad func(flagName, envName, value, want string)) {
	var err error
	// Below 1 s: a probe's answer waits for one Redis look bounded by this,
	// so it fits even the kubelet's default timeoutSeconds (1) of a probe
	// written by hand. The probes the webhook writes wait 5 s
	// (webhook/probes.go), which leaves the rest to a loaded node.
	if c.Redis.Timeout, err = time.ParseDuration(raw.redisTimeout); err != nil || c.Redis.Timeout <= 0 || c.Redis.Timeout >= time.Second {
		bad("redis-timeout", "", raw.redisTimeout, "a duration above 0 and below 1s")
	}
	if _, err := redisconn.Options(c.Redis.URL); err != nil {
		bad("redis-url", "$"+urlEnv, "(hidden)", err.Error())
	}
	if c.Redis.Sentinels, err = redisconn.ParseSentinels(raw.sentinels); err != nil {
		bad("redis-sentinels", EnvRedisSentinels, raw.sentinels, "host:port,host:port ("+err.Error()+")")
	}
	if len(c.Redis.Sentinels) > 0 && c.Redis.SentinelMaster == "" {
		bad("redis-sentinel-master", EnvRedisSentinelMaster, "", "the master's name when sentinels are given")
	}
}

// resolveHostname fills Hostname when no flag gave it: $DYNO, else the pod
// name, else the host name.
func (c *Config) resolveHostname(getenv func(string) string, hostname func() (string, error)) error {
	if c.Hostname == "" {
		c.Hostname = firstOf(getenv("DYNO"), getenv(contract.EnvPodName))
	}
	if c.Hostname != "" {
		return nil
	}
	var err error
	if c.Hostname, err = hostname(); err != nil {
		return fmt.Errorf("--hostname not given and the host name is unknown: %w", err)
	}
	return nil
}

// seconds parses whole seconds of at least lowest, reporting a bad value.
func seconds(bad func(flagName, envName, value, want string), flagName, envName, value string, lowest int) time.Duration {
	secs, err := strconv.Atoi(value)
	if err != nil || secs < lowest {
		bad(flagName, envName, value, fmt.Sprintf("whole seconds, at least %d", lowest))
		return 0
	}
	return time.Duration(secs) * time.Second
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
