// Package redis is the configuration.redis store, laid out as Dapr's: every
// item is a Redis string key whose value is "<value>" or
// "<value>||<version>". Subscriptions follow keyspace notifications
// (__keyspace@<db>__:<key>), so the server needs notify-keyspace-events
// with at least K, g and $ (for example "KA"); each notification re-reads
// the key and delivers its current value, which is empty once the key is
// deleted or expired.
//
// In cluster mode a subscription only hears the node it is connected to,
// because Redis does not broadcast keyspace notifications across a cluster
// (Dapr's store has the same limit).
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/redisconf"
)

func init() {
	configuration.Registry.Register("configuration.redis", New)
}

// versionSep separates a value from its version inside a Redis string.
const versionSep = "||"

// mgetBatch bounds the keys of one MGET while reading every item.
const mgetBatch = 500

// Store is the Redis configuration store.
type Store struct {
	log    *slog.Logger
	cfg    redisconf.Config
	client goredis.UniversalClient

	// ctx lives from Init to Close; every subscription stops with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	subs   map[string]*subscription
	closed bool
	warn   sync.Once // the notify-keyspace-events check runs once
}

// New returns an uninitialised store.
func New() configuration.Store {
	return &Store{log: slog.Default().With("component", "configuration.redis"), subs: map[string]*subscription{}}
}

// Init parses the metadata and connects.
func (s *Store) Init(ctx context.Context, md configuration.Metadata) error {
	// Dapr's Redis configuration store retries like its state store.
	cfg, err := redisconf.Parse(redisconf.NewProps(md.Properties), redisconf.Defaults{MaxRetries: 3, MinRetry: 2 * time.Second})
	if err != nil {
		return fmt.Errorf("configuration.redis: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return fmt.Errorf("configuration.redis: %w", err)
	}
	opts.ClientName = redisconf.ClientName("outrigger-configuration", md.Name)
	client := goredis.NewUniversalClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return fmt.Errorf("configuration.redis: connecting to %s: %w", cfg.Host, err)
	}
	s.cfg, s.client = cfg, client
	s.log = s.log.With("name", md.Name)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return nil
}

// Get reads keys with MGET, or every string key when keys is empty. Keys
// that are missing or hold another Redis type are left out.
func (s *Store) Get(ctx context.Context, keys []string, _ map[string]string) (map[string]*configuration.Item, error) {
	if len(keys) == 0 {
		all, err := s.scanAll(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		keys = all
	}
	out := make(map[string]*configuration.Item, len(keys))
	for start := 0; start < len(keys); start += mgetBatch {
		batch := keys[start:min(start+mgetBatch, len(keys))]
		if err := s.read(ctx, batch, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// read adds the items of keys to out.
func (s *Store) read(ctx context.Context, keys []string, out map[string]*configuration.Item) error {
	if s.cfg.Type == redisconf.TypeCluster {
		return s.readCluster(ctx, keys, out)
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("reading %d keys: %w", len(keys), err)
	}
	for i, v := range vals {
		// MGET answers nil for missing keys and for non-string types.
		if str, ok := v.(string); ok {
			out[keys[i]] = parseValue(str)
		}
	}
	return nil
}

// readCluster reads keys one GET each, pipelined: a cluster rejects an
// MGET whose keys live in different slots.
func (s *Store) readCluster(ctx context.Context, keys []string, out map[string]*configuration.Item) error {
	cmds := make([]*goredis.StringCmd, len(keys))
	_, _ = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	for i, c := range cmds {
		v, err := c.Result()
		switch {
		case err == nil:
			out[keys[i]] = parseValue(v)
		case errors.Is(err, goredis.Nil), isWrongType(err):
		default:
			return fmt.Errorf("reading key %q: %w", keys[i], err)
		}
	}
	return nil
}

// scanAll lists every key of the database (of every master in a cluster).
func (s *Store) scanAll(ctx context.Context) ([]string, error) {
	cc, ok := s.client.(*goredis.ClusterClient)
	if !ok {
		return scanNode(ctx, s.client)
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		keys, err := scanNode(ctx, node)
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	return all, err
}

func scanNode(ctx context.Context, c goredis.Cmdable) ([]string, error) {
	var keys []string
	it := c.Scan(ctx, 0, "*", 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	return keys, it.Err()
}

// getOne reads one key for a notification; a missing key is an item with
// an empty value, which is how a deletion reaches subscribers. ok is false
// when the key now holds another Redis type.
func (s *Store) getOne(ctx context.Context, key string) (it *configuration.Item, ok bool, err error) {
	v, err := s.client.Get(ctx, key).Result()
	switch {
	case err == nil:
		return parseValue(v), true, nil
	case errors.Is(err, goredis.Nil):
		return &configuration.Item{}, true, nil
	case isWrongType(err):
		return nil, false, nil
	}
	return nil, false, err
}

// parseValue splits "<value>||<version>". As in Dapr, only the text up to
// a second separator counts as the version.
func parseValue(s string) *configuration.Item {
	value, rest, _ := strings.Cut(s, versionSep)
	version, _, _ := strings.Cut(rest, versionSep)
	return &configuration.Item{Value: value, Version: version}
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// Close stops every subscription and disconnects.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed || s.client == nil {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := s.subs
	s.subs = map[string]*subscription{}
	s.mu.Unlock()

	s.cancel()
	for _, sub := range subs {
		sub.stop()
	}
	return s.client.Close()
}
