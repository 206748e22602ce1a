package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/redisconf"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(map[string]string{"redisHost": "localhost:6379"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host != "localhost:6379" || c.Type != redisconf.TypeNode || c.DB != 0 {
		t.Errorf("host/type/db = %q/%q/%d", c.Host, c.Type, c.DB)
	}
	if c.MaxRetries != 3 || c.MinRetry != 2*time.Second || c.MaxRetry != 0 {
		t.Errorf("retries = %d, min %s, max %s; want Dapr's 3, 2s, 0", c.MaxRetries, c.MinRetry, c.MaxRetry)
	}
	if c.defaultTTL != nil || c.TLS || c.Failover {
		t.Errorf("defaultTTL=%v tls=%v failover=%v, want unset", c.defaultTTL, c.TLS, c.Failover)
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := parseConfig(map[string]string{
		"REDISHOST":             "h1",
		"redisPort":             "6380",
		"redisPassword":         "pw",
		"redisUsername":         "u",
		"redisDB":               "4",
		"redisMaxRetries":       "-1",
		"redisMinRetryInterval": "100",
		"redisMaxRetryInterval": "1s",
		"dialTimeout":           "-1",
		"readTimeout":           "250ms",
		"poolSize":              "7",
		"minIdleConns":          "2",
		"idleTimeout":           "5m",
		"ttlInSeconds":          "30",
		"enableTLS":             "true",
		"insecureSkipTLSVerify": "true",
		"idleCheckFrequency":    "1m", // accepted, ignored
		"actorStateStore":       "true",
		"somethingElse":         "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"host", c.Host, "h1:6380"},
		{"password", c.Password, "pw"},
		{"username", c.Username, "u"},
		{"db", c.DB, 4},
		{"maxRetries", c.MaxRetries, -1},
		{"minRetry", c.MinRetry, 100 * time.Millisecond},
		{"maxRetry", c.MaxRetry, time.Second},
		{"dialTimeout", c.DialTimeout, time.Duration(-1)},
		{"readTimeout", c.ReadTimeout, 250 * time.Millisecond},
		{"poolSize", c.PoolSize, 7},
		{"minIdleConns", c.MinIdleConns, 2},
		{"idleTimeout", c.IdleTimeout, 5 * time.Minute},
		{"defaultTTL", *c.defaultTTL, 30},
		{"tls", c.TLS, true},
		{"skipVerify", c.SkipVerify, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSConfig == nil || !o.TLSConfig.InsecureSkipVerify || o.DB != 4 || o.IsClusterMode {
		t.Errorf("client options = %+v", o)
	}
}

func TestParseConfigLegacyKeys(t *testing.T) {
	c, err := parseConfig(map[string]string{"redisHost": "h:1", "maxRetries": "5", "maxRetryBackoff": "1000000"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxRetries != 5 || c.MinRetry != time.Millisecond {
		t.Errorf("maxRetries=%d minRetry=%s, want 5 and 1ms (maxRetryBackoff is in ns)", c.MaxRetries, c.MinRetry)
	}
}

func TestParseConfigClusterAndFailover(t *testing.T) {
	c, err := parseConfig(map[string]string{"redisHost": "a:1, b:2,c:3", "redisType": "Cluster", "redisPort": "9"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := c.Options()
	if !o.IsClusterMode || strings.Join(o.Addrs, " ") != "a:1 b:2 c:3" {
		t.Errorf("cluster options: cluster=%v addrs=%q", o.IsClusterMode, o.Addrs)
	}

	c, err = parseConfig(map[string]string{"redisHost": "s1:26379,s2:26379", "failover": "true", "sentinelMasterName": "m", "sentinelPassword": "sp"})
	if err != nil {
		t.Fatal(err)
	}
	o, _ = c.Options()
	if o.MasterName != "m" || o.SentinelPassword != "sp" || len(o.Addrs) != 2 || o.TLSConfig != nil {
		t.Errorf("failover options: master=%q sentinelPassword=%q addrs=%q", o.MasterName, o.SentinelPassword, o.Addrs)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]string
		want string
	}{
		{"no host", map[string]string{}, "redisHost is required"},
		{"bad type", map[string]string{"redisHost": "h", "redisType": "ring"}, "redisType"},
		{"bad db", map[string]string{"redisHost": "h", "redisDB": "one"}, "redisDB"},
		{"bad bool", map[string]string{"redisHost": "h", "enableTLS": "maybe"}, "enableTLS"},
		{"bad duration", map[string]string{"redisHost": "h", "dialTimeout": "soon"}, "dialTimeout"},
		{"bad ttl", map[string]string{"redisHost": "h", "ttlInSeconds": "1h"}, "ttlInSeconds"},
		{"bad legacy backoff", map[string]string{"redisHost": "h", "maxRetryBackoff": "2s"}, "maxRetryBackoff"},
		{"failover without master", map[string]string{"redisHost": "h", "failover": "true"}, "sentinelMasterName"},
		{"entra id", map[string]string{"redisHost": "h", "useEntraID": "true"}, "Entra ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.md)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%v) error = %v, want one mentioning %q", tt.md, err, tt.want)
			}
		})
	}
}

func TestTLSClientCertError(t *testing.T) {
	c, err := parseConfig(map[string]string{"redisHost": "h", "enableTLS": "true", "clientCert": "x", "clientKey": "y"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Options(); err == nil || !strings.Contains(err.Error(), "clientCert") {
		t.Errorf("clientOptions with a bad key pair: %v, want a clientCert error", err)
	}
}

func TestLikeToGlob(t *testing.T) {
	tests := []struct{ like, glob string }{
		{"app||%", "app||*"},
		{"a_c", "a?c"},
		{`100\%`, `100%`},
		{`a\_b`, `a_b`},
		{"x*y?[z]", `x\*y\?\[z\]`},
		{`end\`, `end\\`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := likeToGlob(tt.like); got != tt.glob {
			t.Errorf("likeToGlob(%q) = %q, want %q", tt.like, got, tt.glob)
		}
	}
}
