// Package redis is the bindings.redis output binding: plain string keys
// (create, get, delete, increment) on a Redis server, with the same
// connection metadata as the Redis state store.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/redisconf"
)

func init() {
	bindings.Outputs.Register("bindings.redis", func() bindings.Output { return New() })
}

// Binding is the Redis output binding.
type Binding struct {
	host   string
	client goredis.UniversalClient
}

// New returns an uninitialised binding.
func New() *Binding { return &Binding{} }

// Init connects and pings the server. Bindings keep go-redis's retry
// defaults, as Dapr's Redis binding does.
func (b *Binding) Init(ctx context.Context, md bindings.Metadata) error {
	cfg, err := redisconf.Parse(redisconf.NewProps(md.Properties), redisconf.Defaults{})
	if err != nil {
		return fmt.Errorf("redis binding: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return fmt.Errorf("redis binding: %w", err)
	}
	opts.ClientName = redisconf.ClientName("outrigger-binding", md.Name)
	b.host = cfg.Host
	b.client = goredis.NewUniversalClient(opts)
	if err := b.client.Ping(ctx).Err(); err != nil {
		_ = b.client.Close()
		b.client = nil
		return fmt.Errorf("redis binding: error connecting to redis at %s: %w", cfg.Host, err)
	}
	return nil
}

// Operations lists the supported operations.
func (b *Binding) Operations() []string {
	return []string{bindings.OpCreate, bindings.OpDelete, bindings.OpGet, bindings.OpIncrement}
}

// Invoke runs one operation on the key named by the `key` metadata.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	key := req.Metadata["key"]
	if key == "" {
		return nil, errors.New("redis binding: missing key in request metadata")
	}
	ttl, hasTTL, err := ttlOf(req.Metadata)
	if err != nil {
		return nil, fmt.Errorf("redis binding: %w", err)
	}
	switch req.Operation {
	case bindings.OpCreate:
		return nil, b.write(ctx, key, ttl, hasTTL, func(p goredis.Pipeliner) { p.Set(ctx, key, req.Data, 0) })
	case bindings.OpIncrement:
		return nil, b.write(ctx, key, ttl, hasTTL, func(p goredis.Pipeliner) { p.Incr(ctx, key) })
	case bindings.OpDelete:
		if err := b.client.Del(ctx, key).Err(); err != nil {
			return nil, fmt.Errorf("redis binding: %w", err)
		}
		return nil, nil
	case bindings.OpGet:
		return b.get(ctx, key, req.Metadata["delete"] == "true")
	}
	return nil, fmt.Errorf("redis binding: invalid operation type: %s", req.Operation)
}

// write runs one command and, with a TTL, the EXPIRE after it, atomically.
func (b *Binding) write(ctx context.Context, key string, ttl time.Duration, hasTTL bool, cmd func(goredis.Pipeliner)) error {
	_, err := b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		cmd(p)
		if hasTTL {
			p.Expire(ctx, key, ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis binding: %w", err)
	}
	return nil
}

// get reads the value (GETDEL when asked to delete it). A missing key is
// an empty answer, not an error.
func (b *Binding) get(ctx context.Context, key string, del bool) (*bindings.InvokeResponse, error) {
	var cmd *goredis.StringCmd
	if del {
		cmd = b.client.GetDel(ctx, key)
	} else {
		cmd = b.client.Get(ctx, key)
	}
	data, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return &bindings.InvokeResponse{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redis binding: %w", err)
	}
	return &bindings.InvokeResponse{Data: data}, nil
}

// ttlOf reads ttlInSeconds: a positive whole number of seconds.
func ttlOf(md map[string]string) (time.Duration, bool, error) {
	v := md["ttlInSeconds"]
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("ttlInSeconds value must be a valid integer: actual is '%s'", v)
	}
	if n <= 0 {
		return 0, false, fmt.Errorf("ttlInSeconds value must be higher than zero: actual is %d", n)
	}
	return time.Duration(n) * time.Second, true, nil
}

// Close releases the connections.
func (b *Binding) Close() error {
	if b.client == nil {
		return nil
	}
	return b.client.Close()
}
