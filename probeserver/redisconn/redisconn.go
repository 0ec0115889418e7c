// Package redisconn turns the Redis settings Sidekiq reads (a URL, or a list
// of Sentinels) into a go-redis client whose every call gives up quickly.
//
// go-redis waits up to 3 s to read an answer and retries three times. A probe
// must answer well inside the kubelet's 1 s timeout even when Redis is frozen
// or the network drops packets, so this client bounds dialing, reading,
// writing and waiting for a pooled connection by one short timeout, never
// retries, and honours context deadlines.
package redisconn

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Settings says where Redis is and how long any call may take.
type Settings struct {
	// URL in a form Sidekiq accepts: redis://[:password@]host[:port][/db],
	// rediss:// for TLS, unix://[:password@]/path/to/socket[?db=N].
	URL string
	// Sentinels, when not empty, are host:port addresses of Redis Sentinels
	// asked for the address of SentinelMaster; the URL then only supplies the
	// password, the db and TLS.
	Sentinels      []string
	SentinelMaster string
	// Timeout bounds every step of every call.
	Timeout time.Duration
	// PoolSize caps open connections; a sidecar needs very few.
	PoolSize int
}

// New returns a client for the settings. It does not connect.
func New(s Settings) (*redis.Client, error) {
	opt, err := Options(s.URL)
	if err != nil {
		return nil, err
	}
	bound(opt, s)
	if len(s.Sentinels) == 0 {
		return redis.NewClient(opt), nil
	}
	if s.SentinelMaster == "" {
		return nil, fmt.Errorf("redis sentinels given without a master name")
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            s.SentinelMaster,
		SentinelAddrs:         s.Sentinels,
		Username:              opt.Username,
		Password:              opt.Password,
		DB:                    opt.DB,
		TLSConfig:             opt.TLSConfig,
		DialTimeout:           opt.DialTimeout,
		ReadTimeout:           opt.ReadTimeout,
		WriteTimeout:          opt.WriteTimeout,
		PoolTimeout:           opt.PoolTimeout,
		PoolSize:              opt.PoolSize,
		MaxRetries:            opt.MaxRetries,
		ContextTimeoutEnabled: true,
		Protocol:              opt.Protocol,
		DisableIdentity:       true,
	}), nil
}

// Options parses a Redis URL. Errors never repeat the URL, which may hold a
// password.
func Options(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("redis URL does not parse (want redis://, rediss:// or unix://)")
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("redis URL scheme %q not supported, want redis://, rediss:// or unix://", u.Scheme)
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %s", strings.ReplaceAll(err.Error(), raw, "<url>"))
	}
	return opt, nil
}

// ParseSentinels splits "host:port,host:port" and checks each address. Each
// entry may carry a redis:// scheme, as some Sidekiq setups write it.
func ParseSentinels(list string) ([]string, error) {
	var addrs []string
	for a := range strings.SplitSeq(list, ",") {
		a = strings.TrimPrefix(strings.TrimSpace(a), "redis://")
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("sentinel %q is not host:port", a)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func bound(opt *redis.Options, s Settings) {
	opt.DialTimeout = s.Timeout
	opt.ReadTimeout = s.Timeout
	opt.WriteTimeout = s.Timeout
	opt.PoolTimeout = s.Timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1 // -1, not 0: 0 means go-redis' default of 3
	opt.PoolSize = max(s.PoolSize, 1)
	// RESP2 and no CLIENT SETINFO: one round trip less per new connection,
	// and nothing that a Redis older than 7.2 would refuse.
	opt.Protocol = 2
	opt.DisableIdentity = true
}
