package redis

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/testutil"
)

const testAddr = "127.0.0.1:6379"

// setup opens the binding and a raw client; keys get a per-test prefix and
// are deleted afterwards.
func setup(t *testing.T) (*Binding, *goredis.Client, string) {
	t.Helper()
	testutil.RequireService(t, "Redis", testAddr)
	prefix := "bindingtest-" + uuid.NewString() + "-"
	raw := goredis.NewClient(&goredis.Options{Addr: testAddr})
	b := New()
	if err := b.Init(context.Background(), bindings.Metadata{Name: "rb", Properties: map[string]string{"redisHost": "127.0.0.1", "RedisPort": "6379"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := raw.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			raw.Del(ctx, keys...)
		}
		_ = raw.Close()
		_ = b.Close()
	})
	return b, raw, prefix
}

func call(t *testing.T, b *Binding, op string, md map[string]string, data string) (*bindings.InvokeResponse, error) {
	t.Helper()
	return b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: op, Metadata: md, Data: []byte(data)})
}

func TestCreateGetDelete(t *testing.T) {
	b, raw, prefix := setup(t)
	ctx := context.Background()
	key := prefix + "k"
	if res, err := call(t, b, "create", map[string]string{"key": key}, `"hello"`); err != nil || res != nil {
		t.Fatalf("create = %v, %v", res, err)
	}
	if v, _ := raw.Get(ctx, key).Result(); v != `"hello"` {
		t.Fatalf("stored %q", v)
	}
	if ttl := raw.TTL(ctx, key).Val(); ttl != -1 {
		t.Fatalf("ttl without ttlInSeconds = %v", ttl)
	}
	res, err := call(t, b, "get", map[string]string{"key": key}, "")
	if err != nil || string(res.Data) != `"hello"` {
		t.Fatalf("get = %v, %v", res, err)
	}
	if res, err := call(t, b, "delete", map[string]string{"key": key}, ""); err != nil || res != nil {
		t.Fatalf("delete = %v, %v", res, err)
	}
	if n := raw.Exists(ctx, key).Val(); n != 0 {
		t.Fatal("key still exists")
	}
	res, err = call(t, b, "get", map[string]string{"key": key}, "")
	if err != nil || res == nil || len(res.Data) != 0 {
		t.Fatalf("get missing = %v, %v", res, err)
	}
}

func TestGetDel(t *testing.T) {
	b, raw, prefix := setup(t)
	key := prefix + "gd"
	if _, err := call(t, b, "create", map[string]string{"key": key}, "once"); err != nil {
		t.Fatal(err)
	}
	res, err := call(t, b, "get", map[string]string{"key": key, "delete": "true"}, "")
	if err != nil || string(res.Data) != "once" {
		t.Fatalf("get delete=true = %v, %v", res, err)
	}
	if raw.Exists(context.Background(), key).Val() != 0 {
		t.Fatal("GETDEL left the key")
	}
}

func TestTTLAndIncrement(t *testing.T) {
	b, raw, prefix := setup(t)
	ctx := context.Background()
	key := prefix + "ttl"
	if _, err := call(t, b, "create", map[string]string{"key": key, "ttlInSeconds": "100"}, "v"); err != nil {
		t.Fatal(err)
	}
	if ttl := raw.TTL(ctx, key).Val(); ttl <= 90*time.Second || ttl > 100*time.Second {
		t.Fatalf("ttl = %v", ttl)
	}
	counter := prefix + "counter"
	for i := 0; i < 3; i++ {
		if res, err := call(t, b, "increment", map[string]string{"key": counter}, ""); err != nil || res != nil {
			t.Fatalf("increment = %v, %v", res, err)
		}
	}
	if _, err := call(t, b, "increment", map[string]string{"key": counter, "ttlInSeconds": "50"}, ""); err != nil {
		t.Fatal(err)
	}
	if v := raw.Get(ctx, counter).Val(); v != "4" {
		t.Fatalf("counter = %q", v)
	}
	if ttl := raw.TTL(ctx, counter).Val(); ttl <= 40*time.Second || ttl > 50*time.Second {
		t.Fatalf("counter ttl = %v", ttl)
	}
}

func TestRequestErrors(t *testing.T) {
	b, _, prefix := setup(t)
	tests := []struct {
		op string
		md map[string]string
	}{
		{"create", map[string]string{}},
		{"create", map[string]string{"key": prefix + "x", "ttlInSeconds": "soon"}},
		{"create", map[string]string{"key": prefix + "x", "ttlInSeconds": "0"}},
		{"list", map[string]string{"key": prefix + "x"}},
	}
	for _, tt := range tests {
		if _, err := call(t, b, tt.op, tt.md, "v"); err == nil {
			t.Errorf("%s %v succeeded", tt.op, tt.md)
		}
	}
}

func TestInitErrors(t *testing.T) {
	for _, props := range []map[string]string{{}, {"redisHost": "127.0.0.1:1", "dialTimeout": "200ms", "redisMaxRetries": "-1"}} {
		b := New()
		if err := b.Init(context.Background(), bindings.Metadata{Properties: props}); err == nil {
			t.Errorf("Init(%v) succeeded", props)
		}
	}
}
