package redis

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(map[string]string{"redisHost": "localhost:6379", "consumerID": "app"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"consumerID", c.consumerID, "app"},
		{"processingTimeout", c.processingTimeout, 60 * time.Second},
		{"redeliverInterval", c.redeliverInterval, 15 * time.Second},
		{"queueDepth", c.queueDepth, 100},
		{"concurrency", c.concurrency, 10},
		{"maxLenApprox", c.maxLenApprox, int64(0)},
		{"streamTTL", c.streamTTL, time.Duration(0)},
		// Pub/sub keeps go-redis's retry defaults (zero values select them).
		{"maxRetries", c.MaxRetries, 0},
		{"minRetry", c.MinRetry, time.Duration(0)},
		{"redelivery", c.redelivery(), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseConfigValues(t *testing.T) {
	tests := []struct {
		name  string
		md    map[string]string
		check func(c config) bool
	}{
		{"durations in Go syntax", map[string]string{"redeliverInterval": "2s", "processingTimeout": "1m"},
			func(c config) bool { return c.redeliverInterval == 2*time.Second && c.processingTimeout == time.Minute }},
		{"durations as milliseconds", map[string]string{"redeliverInterval": "5000", "processingTimeout": "600000", "streamTTL": "1500"},
			func(c config) bool {
				return c.redeliverInterval == 5*time.Second && c.processingTimeout == 10*time.Minute && c.streamTTL == 1500*time.Millisecond
			}},
		{"redeliverInterval 0 disables redelivery", map[string]string{"redeliverInterval": "0"},
			func(c config) bool { return !c.redelivery() }},
		{"processingTimeout 0 disables redelivery", map[string]string{"processingTimeout": "0s"},
			func(c config) bool { return !c.redelivery() }},
		{"counts", map[string]string{"queueDepth": "7", "concurrency": "3", "maxLenApprox": "10000"},
			func(c config) bool { return c.queueDepth == 7 && c.concurrency == 3 && c.maxLenApprox == 10000 }},
		{"keys are case-insensitive", map[string]string{"CONSUMERID": "other", "StreamTTL": "1h"},
			func(c config) bool { return c.consumerID == "other" && c.streamTTL == time.Hour }},
		{"connection settings are shared", map[string]string{"redisDB": "2", "redisMaxRetries": "5", "enableTLS": "true"},
			func(c config) bool { return c.DB == 2 && c.MaxRetries == 5 && c.TLS }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := map[string]string{"redisHost": "h:1", "consumerID": "app"}
			for k, v := range tt.md {
				// A case's key replaces a base key spelt differently:
				// two spellings of one key would make the test depend on
				// map order.
				for base := range md {
					if strings.EqualFold(base, k) {
						delete(md, base)
					}
				}
				md[k] = v
			}
			c, err := parseConfig(md)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("parseConfig(%v) = %+v", md, c)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]string // over a valid base; "" removes a key
		want string
	}{
		{"no host", map[string]string{"redisHost": ""}, "redisHost is required"},
		{"no consumerID", map[string]string{"consumerID": ""}, "consumerID is required"},
		{"bad interval", map[string]string{"redeliverInterval": "often"}, "redeliverInterval"},
		{"negative timeout", map[string]string{"processingTimeout": "-1"}, "processingTimeout"},
		{"bad ttl", map[string]string{"streamTTL": "a day"}, "streamTTL"},
		{"zero concurrency", map[string]string{"concurrency": "0"}, "concurrency"},
		{"bad queueDepth", map[string]string{"queueDepth": "deep"}, "queueDepth"},
		{"negative maxLenApprox", map[string]string{"maxLenApprox": "-5"}, "maxLenApprox"},
		{"bad redisType", map[string]string{"redisType": "ring"}, "redisType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := map[string]string{"redisHost": "h", "consumerID": "a"}
			for k, v := range tt.md {
				md[k] = v
			}
			_, err := parseConfig(md)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseConfig(%v) error = %v, want one mentioning %q", md, err, tt.want)
			}
		})
	}
}

func TestTrim(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name   string
		cfg    config
		maxLen int64
		minID  string
		approx bool
	}{
		{"no trimming", config{}, 0, "", false},
		{"by length", config{maxLenApprox: 1000}, 1000, "", true},
		{"by age", config{streamTTL: time.Minute}, 0, "1699999940000", true},
		{"length wins over age", config{maxLenApprox: 5, streamTTL: time.Minute}, 5, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &Broker{cfg: tt.cfg}
			args := &goredis.XAddArgs{}
			b.trim(args, now)
			if args.MaxLen != tt.maxLen || args.MinID != tt.minID || args.Approx != tt.approx {
				t.Errorf("XADD args: MaxLen=%d MinID=%q Approx=%v, want %d %q %v", args.MaxLen, args.MinID, args.Approx, tt.maxLen, tt.minID, tt.approx)
			}
		})
	}
}

func TestNextID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"1700000000000-0", "1700000000000-1"},
		{"5-41", "5-42"},
		{"5-18446744073709551615", "6-0"},
	}
	for _, tt := range tests {
		got, err := nextID(tt.id)
		if err != nil || got != tt.want {
			t.Errorf("nextID(%q) = %q, %v; want %q", tt.id, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "12", "a-1", "1-b"} {
		if _, err := nextID(bad); err == nil {
			t.Errorf("nextID(%q) succeeded, want an error", bad)
		}
	}
}
