package redis

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
	"github.com/outrigger/outrigger/internal/testutil"
)

// TestConformance runs on the local Redis with keys under a prefix unique
// to the run, deleted afterwards. Each caller n has its own value key and
// counter key.
func TestConformance(t *testing.T) {
	testutil.RequireService(t, "Redis", testAddr)
	prefix := "bindingtest-conformance-" + uuid.NewString() + "-"
	t.Cleanup(func() {
		raw := goredis.NewClient(&goredis.Options{Addr: testAddr})
		defer raw.Close()
		ctx := context.Background()
		if keys, _ := raw.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			raw.Del(ctx, keys...)
		}
	})
	key := func(n int) map[string]string { return map[string]string{"key": fmt.Sprintf("%svalue-%d", prefix, n)} }
	value := func(n int) []byte { return fmt.Appendf(nil, `{"n":%d}`, n) }
	bindingstest.Run(t, bindingstest.Config{
		Metadata: func(*testing.T) bindings.Metadata {
			return bindings.Metadata{Name: "rb", Properties: map[string]string{"redisHost": testAddr}}
		},
		NewOutput: func() bindings.Output { return New() },
		Operations: []bindingstest.Operation{
			{
				Name:    bindings.OpCreate,
				Request: func(n int) *bindings.InvokeRequest { return &bindings.InvokeRequest{Data: value(n), Metadata: key(n)} },
			},
			{
				Name:     bindings.OpGet,
				Request:  func(n int) *bindings.InvokeRequest { return &bindings.InvokeRequest{Metadata: key(n)} },
				WantData: true,
				Check: func(t *testing.T, _ *bindings.InvokeRequest, res *bindings.InvokeResponse) {
					if string(res.Data) != string(value(0)) {
						t.Errorf("get = %q, want %q", res.Data, value(0))
					}
				},
			},
			{
				Name: bindings.OpIncrement,
				Request: func(n int) *bindings.InvokeRequest {
					return &bindings.InvokeRequest{Metadata: map[string]string{"key": fmt.Sprintf("%scounter-%d", prefix, n)}}
				},
			},
			{
				Name:    bindings.OpDelete,
				Request: func(n int) *bindings.InvokeRequest { return &bindings.InvokeRequest{Metadata: key(n)} },
			},
		},
	})
}
