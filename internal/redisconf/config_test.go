package redisconf

import (
	"strings"
	"testing"
	"time"
)

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name     string
		defaults Defaults
	}{
		{"go-redis defaults (pub/sub)", Defaults{}},
		{"state store defaults", Defaults{MaxRetries: 3, MinRetry: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(NewProps(map[string]string{"redisHost": "localhost:6379"}), tt.defaults)
			if err != nil {
				t.Fatal(err)
			}
			if c.Host != "localhost:6379" || c.Type != TypeNode || c.DB != 0 || c.TLS || c.Failover {
				t.Errorf("config = %+v", c)
			}
			if c.MaxRetries != tt.defaults.MaxRetries || c.MinRetry != tt.defaults.MinRetry || c.MaxRetry != 0 {
				t.Errorf("retries = %d, min %s, max %s; want the defaults %+v", c.MaxRetries, c.MinRetry, c.MaxRetry, tt.defaults)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	c, err := Parse(NewProps(map[string]string{
		"REDISHOST":             " h1 ",
		"redisPort":             "6380",
		"redisPassword":         "pw",
		"redisUsername":         "u",
		"redisDB":               "4",
		"redisMaxRetries":       "-1",
		"redisMinRetryInterval": "100",
		"redisMaxRetryInterval": "1s",
		"dialTimeout":           "-1",
		"writeTimeout":          "2s",
		"poolSize":              "7",
		"poolTimeout":           "4s",
		"minIdleConns":          "2",
		"maxConnAge":            "30m",
		"enableTLS":             "true",
		"insecureSkipTLSVerify": "true",
		"idleCheckFrequency":    "1m", // accepted, ignored
	}), Defaults{MaxRetries: 3})
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
		{"writeTimeout", c.WriteTimeout, 2 * time.Second},
		{"poolSize", c.PoolSize, 7},
		{"poolTimeout", c.PoolTimeout, 4 * time.Second},
		{"minIdleConns", c.MinIdleConns, 2},
		{"maxConnAge", c.MaxConnAge, 30 * time.Minute},
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
	if o.TLSConfig == nil || !o.TLSConfig.InsecureSkipVerify || o.DB != 4 || o.PoolSize != 7 || o.ConnMaxLifetime != 30*time.Minute {
		t.Errorf("client options = %+v", o)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]string
		want string
	}{
		{"no host", map[string]string{}, "redisHost is required"},
		{"bad type", map[string]string{"redisHost": "h", "redisType": "ring"}, "redisType"},
		{"bad db", map[string]string{"redisHost": "h", "redisDB": "one"}, "redisDB"},
		{"bad bool", map[string]string{"redisHost": "h", "failover": "maybe"}, "failover"},
		{"bad duration", map[string]string{"redisHost": "h", "readTimeout": "soon"}, "readTimeout"},
		{"failover without master", map[string]string{"redisHost": "h", "failover": "true"}, "sentinelMasterName"},
		{"azure ad", map[string]string{"redisHost": "h", "useAzureAD": "true"}, "Entra ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(NewProps(tt.md), Defaults{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%v) error = %v, want one mentioning %q", tt.md, err, tt.want)
			}
		})
	}
}

func TestOptionsClusterAndFailover(t *testing.T) {
	tests := []struct {
		name      string
		md        map[string]string
		cluster   bool
		master    string
		wantAddrs string
	}{
		{"node keeps one address", map[string]string{"redisHost": "a:1"}, false, "", "a:1"},
		{"cluster splits hosts", map[string]string{"redisHost": "a:1, b:2,c:3", "redisType": "Cluster", "redisPort": "9"}, true, "", "a:1 b:2 c:3"},
		{"sentinels", map[string]string{"redisHost": "s1:26379,s2:26379", "failover": "true", "sentinelMasterName": "m"}, false, "m", "s1:26379 s2:26379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(NewProps(tt.md), Defaults{})
			if err != nil {
				t.Fatal(err)
			}
			o, err := c.Options()
			if err != nil {
				t.Fatal(err)
			}
			if o.IsClusterMode != tt.cluster || o.MasterName != tt.master || strings.Join(o.Addrs, " ") != tt.wantAddrs {
				t.Errorf("options: cluster=%v master=%q addrs=%q", o.IsClusterMode, o.MasterName, o.Addrs)
			}
		})
	}
}

func TestClientName(t *testing.T) {
	tests := []struct{ prefix, component, want string }{
		{"outrigger-state", "my store\n", "outrigger-state:my_store_"},
		{"outrigger-pubsub", "", "outrigger-pubsub"},
		{"outrigger-pubsub", "pubsub", "outrigger-pubsub:pubsub"},
	}
	for _, tt := range tests {
		if got := ClientName(tt.prefix, tt.component); got != tt.want {
			t.Errorf("ClientName(%q, %q) = %q, want %q", tt.prefix, tt.component, got, tt.want)
		}
	}
}
