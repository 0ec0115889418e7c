package redisconn

import (
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	tests := map[string]struct {
		url              string
		network, addr    string
		password         string
		db               int
		tls              bool
		errContains      string
		errMustNotRepeat string
	}{
		"a plain URL uses the default port and db 0": {
			url: "redis://redis", network: "tcp", addr: "redis:6379"},
		"password and db come from the URL": {
			url: "redis://:s3cret@redis.example:6380/4", network: "tcp", addr: "redis.example:6380", password: "s3cret", db: 4},
		"rediss turns TLS on": {
			url: "rediss://:pw@cache.internal:6379/1", network: "tcp", addr: "cache.internal:6379", password: "pw", db: 1, tls: true},
		"a unix socket with a db": {
			url: "unix:///run/redis/redis.sock?db=2", network: "unix", addr: "/run/redis/redis.sock", db: 2},
		"a unix socket with a password": {
			url: "unix://:pw@/run/redis.sock", network: "unix", addr: "/run/redis.sock", password: "pw"},
		"an http URL is refused with the accepted schemes": {
			url: "http://redis:6379", errContains: "want redis://, rediss:// or unix://"},
		"a bad db is refused without echoing the password": {
			url: "redis://:hunter2@redis/notanumber", errContains: "redis URL", errMustNotRepeat: "hunter2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opt, err := Options(tc.url)
			if tc.errContains != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errContains) {
					t.Fatalf("Options(%q) error = %v, want it to contain %q", tc.url, err, tc.errContains)
				}
				if tc.errMustNotRepeat != "" && strings.Contains(err.Error(), tc.errMustNotRepeat) {
					t.Errorf("error %q leaks %q", err, tc.errMustNotRepeat)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opt.Network != tc.network || opt.Addr != tc.addr || opt.Password != tc.password || opt.DB != tc.db || (opt.TLSConfig != nil) != tc.tls {
				t.Errorf("Options(%q) = network %q addr %q password %q db %d tls %v", tc.url, opt.Network, opt.Addr, opt.Password, opt.DB, opt.TLSConfig != nil)
			}
		})
	}
}

func TestNew_BoundsEveryCall(t *testing.T) {
	c, err := New(Settings{URL: "redis://redis:6379/3", Timeout: 300 * time.Millisecond, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	if o.ReadTimeout != 300*time.Millisecond || o.WriteTimeout != o.ReadTimeout || o.DialTimeout != o.ReadTimeout || o.PoolTimeout != o.ReadTimeout {
		t.Errorf("timeouts read %v write %v dial %v pool %v, want all 300ms", o.ReadTimeout, o.WriteTimeout, o.DialTimeout, o.PoolTimeout)
	}
	// go-redis turns the -1 it was given into 0 ("no retries") once set up.
	if o.MaxRetries != 0 || !o.ContextTimeoutEnabled || o.PoolSize != 2 || o.DB != 3 {
		t.Errorf("retries %d context timeouts %v pool %d db %d", o.MaxRetries, o.ContextTimeoutEnabled, o.PoolSize, o.DB)
	}
}

func TestNew_SentinelNeedsAMasterName(t *testing.T) {
	if _, err := New(Settings{URL: "redis://x", Sentinels: []string{"s1:26379"}}); err == nil {
		t.Error("want an error for sentinels without a master name")
	}
	c, err := New(Settings{URL: "redis://:pw@ignored/2", Sentinels: []string{"s1:26379"}, SentinelMaster: "mymaster", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Options().DB != 2 || c.Options().Password != "pw" {
		t.Errorf("sentinel client db %d password %q, want 2 and the URL's", c.Options().DB, c.Options().Password)
	}
}

func TestParseSentinels(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    string
		wantErr bool
	}{
		"a comma separated list":           {in: "s1:26379, s2:26379", want: "s1:26379 s2:26379"},
		"entries may carry redis://":       {in: "redis://s1:26379", want: "s1:26379"},
		"an empty list means no sentinels": {in: "", want: ""},
		"an address without a port":        {in: "s1", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSentinels(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseSentinels(%q) error = %v", tc.in, err)
			}
			if !tc.wantErr && strings.Join(got, " ") != tc.want {
				t.Errorf("ParseSentinels(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
