package redis

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/lock/locktest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const addr = "127.0.0.1:6379"

func newStore(t *testing.T) lock.Store {
	t.Helper()
	s := New()
	if err := s.Init(context.Background(), lock.Metadata{Name: "lockstore", Properties: map[string]string{"redisHost": addr}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testutil.RequireService(t, "Redis", addr)
	locktest.Run(t, newStore)
}

// TestDaprLayout checks the stored form: a plain string key named by the
// resource id, holding the owner, with a TTL, as Dapr's store writes it.
func TestDaprLayout(t *testing.T) {
	testutil.RequireService(t, "Redis", addr)
	ctx := context.Background()
	s := newStore(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rdb.Close()
	key := "lock||layouttest-" + uuid.NewString() + "||r"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })

	if ok, err := s.TryLock(ctx, key, "owner-1", 30); err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "owner-1" {
		t.Fatalf("GET %s = %q, %v; want owner-1", key, v, err)
	}
	if ttl, err := rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl.Seconds() > 30 {
		t.Fatalf("PTTL = %v, %v; want (0, 30s]", ttl, err)
	}
	// A lock written by Dapr (same key shape) is honoured and released by owner.
	other := key + "-dapr"
	t.Cleanup(func() { rdb.Del(context.Background(), other) })
	if err := rdb.Set(ctx, other, "dapr-owner", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.TryLock(ctx, other, "me", 30); err != nil || ok {
		t.Fatalf("TryLock over Dapr's lock = %v, %v; want false", ok, err)
	}
	if st, err := s.Unlock(ctx, other, "dapr-owner"); err != nil || st != lock.UnlockSuccess {
		t.Fatalf("Unlock = %v, %v", st, err)
	}
	if n, _ := rdb.Exists(ctx, other).Result(); n != 0 {
		t.Fatalf("key still exists after unlock")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		wantErr string
	}{
		{"minimal", map[string]string{"redisHost": "h:6379"}, ""},
		{"node explicit", map[string]string{"redisHost": "h:6379", "redisType": "node"}, ""},
		{"missing host", map[string]string{}, "redisHost is required"},
		{"cluster rejected", map[string]string{"redisHost": "h:6379", "redisType": "cluster"}, "cluster is not supported"},
		{"failover rejected", map[string]string{"redisHost": "h:26379", "failover": "true", "sentinelMasterName": "m"}, "failover is not supported"},
		{"bad retries", map[string]string{"redisHost": "h:6379", "redisMaxRetries": "x"}, "redisMaxRetries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.props)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.MaxRetries != 3 {
					t.Fatalf("MaxRetries = %d, want Dapr's default 3", cfg.MaxRetries)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestInitUnreachable(t *testing.T) {
	s := New()
	// Port 1 on localhost refuses connections at once.
	err := s.Init(context.Background(), lock.Metadata{Properties: map[string]string{"redisHost": "127.0.0.1:1", "redisMaxRetries": "0"}})
	if err == nil || !strings.Contains(err.Error(), "error connecting to redis at 127.0.0.1:1") {
		t.Fatalf("Init = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after failed Init: %v", err)
	}
}

func TestExpiryMustBePositive(t *testing.T) {
	s := &Store{}
	if _, err := s.TryLock(context.Background(), "k", "o", 0); err == nil {
		t.Fatal("TryLock with expiry 0 succeeded")
	}
}
