// Package redis is the state.redis store. It keeps Dapr's storage layout (a
// HASH per key with fields "data" and "version"), so data written by Dapr's
// Redis state store reads back here and the other way round.
//
// Differences from Dapr, on purpose:
//   - an ETag is always honoured, also with last-write concurrency;
//   - transactions are all-or-nothing: one Lua script checks every ETag and
//     first-write condition before it writes anything (Dapr queues one script
//     per operation in MULTI/EXEC, which does not roll back a failed one);
//   - GET returns metadata ttlExpireTime when the key has a TTL, read in the
//     same script as the value (no extra round trip);
//   - a set's TTL is applied in the same script as the write, and a set
//     without any TTL (none in the request, no component default) removes
//     an earlier expiry, as the other stores do; Dapr's Redis keeps it.
//
// Cluster mode: a transaction runs as one script with all its keys, so every
// key must hash to the same slot (use a {hash tag}); otherwise Redis rejects
// it with CROSSSLOT and nothing is written. Dapr's MULTI/EXEC has the same
// restriction. Single-key operations and bulk calls work across slots.
//
// Values written with contentType application/json by a Dapr sidecar whose
// Redis has the RedisJSON module are stored as JSON documents; those are not
// read here (QUERY_API is not offered).
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/redisconf"
	"github.com/outrigger/outrigger/internal/state"
)

// Store is the Redis state store.
type Store struct {
	client   goredis.UniversalClient
	cfg      config
	replicas int // connected replicas, for strong-consistency WAIT
	log      *slog.Logger
}

// New returns an uninitialised Redis state store.
func New() state.Store {
	return &Store{log: slog.Default().With("component", "state.redis")}
}

var (
	_ state.Transactional = (*Store)(nil)
	_ state.BulkGetter    = (*Store)(nil)
	_ state.BulkSetter    = (*Store)(nil)
	_ state.BulkDeleter   = (*Store)(nil)
	_ state.Pinger        = (*Store)(nil)
)

// Init parses the metadata, connects and pings the server.
func (s *Store) Init(ctx context.Context, md state.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return fmt.Errorf("redis store: %w", err)
	}
	if cfg.queryIndexes != "" {
		s.log.Warn("metadata queryIndexes is ignored: the query API is not supported by this store")
	}
	// The name shows up in CLIENT LIST, so operators can tell which
	// component a connection belongs to.
	opts.ClientName = redisconf.ClientName("outrigger-state", md.Name)
	s.cfg = cfg
	s.client = goredis.NewUniversalClient(opts)
	if err := s.Ping(ctx); err != nil {
		_ = s.client.Close()
		s.client = nil
		return err
	}
	if cfg.Type == redisconf.TypeNode {
		// Best effort, as in Dapr: without the count, strong writes just
		// do not wait for replicas.
		s.replicas = s.connectedReplicas(ctx)
	}
	return nil
}

// Features lists the capabilities of the store.
func (s *Store) Features() []state.Feature {
	return []state.Feature{state.FeatureETag, state.FeatureTransactional, state.FeatureTTL, state.FeatureKeysLike}
}

// Ping checks the server is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis store: error connecting to redis at %s: %w", s.cfg.Host, err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}

// connectedReplicas reads connected_slaves from INFO replication.
func (s *Store) connectedReplicas(ctx context.Context) int {
	info, err := s.client.Info(ctx, "replication").Result()
	if err != nil {
		s.log.Warn("cannot read replication info", "error", err)
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// waitReplicas implements strong consistency as Dapr does: after a write,
// wait up to one second for every connected replica to acknowledge it.
func (s *Store) waitReplicas(ctx context.Context, o state.Options) error {
	if o.Consistency != state.Strong || s.replicas == 0 {
		return nil
	}
	if err := s.client.Do(ctx, "WAIT", s.replicas, 1000).Err(); err != nil {
		return fmt.Errorf("redis store: waiting for %d replicas: %w", s.replicas, err)
	}
	return nil
}
