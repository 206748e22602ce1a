// Package redis is the lock.redis store: a lock is a Redis string key
// holding the owner, set with SET NX PX so it expires on its own; unlock is
// a Lua compare-and-delete so only the owner can release it. Keys are the
// resource ids as the core prefixes them (`lock||<prefix>||<resource>`),
// the same keys Dapr's Redis lock store uses.
//
// As in Dapr, only a single node is supported: Redis Cluster and Sentinel
// failover are refused at init, and so is a primary with connected
// replicas, because replication is asynchronous and a failover could hand
// the same lock to two owners.
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/redisconf"
)

func init() {
	lock.Registry.Register("lock.redis", New)
}

// Store is the Redis lock store.
type Store struct {
	client goredis.UniversalClient
	host   string
	log    *slog.Logger
}

// New returns an uninitialised Redis lock store.
func New() lock.Store {
	return &Store{log: slog.Default().With("component", "lock.redis")}
}

// unlockScript deletes the key only when it holds the caller's owner.
// Returns 1 when deleted, 0 when the key is missing, -1 when someone else
// owns it. Running it as one script makes the check and the delete atomic.
var unlockScript = goredis.NewScript(`
local owner = redis.call("GET", KEYS[1])
if owner == false then
	return 0
end
if owner ~= ARGV[1] then
	return -1
end
redis.call("DEL", KEYS[1])
return 1
`)

// Init parses the metadata, connects and checks the deployment is one node.
func (s *Store) Init(ctx context.Context, md lock.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("redis lock store: %w", err)
	}
	opts, err := cfg.Options()
	if err != nil {
		return fmt.Errorf("redis lock store: %w", err)
	}
	opts.ClientName = redisconf.ClientName("outrigger-lock", md.Name)
	s.host = cfg.Host
	s.client = goredis.NewUniversalClient(opts)
	if err := s.checkServer(ctx); err != nil {
		_ = s.client.Close()
		s.client = nil
		return err
	}
	return nil
}

// parseConfig reads the connection metadata with Dapr's defaults for its
// Redis components (3 retries) and refuses what a lock cannot be safe on.
func parseConfig(in map[string]string) (redisconf.Config, error) {
	cfg, err := redisconf.Parse(redisconf.NewProps(in), redisconf.Defaults{MaxRetries: 3})
	if err != nil {
		return cfg, err
	}
	if cfg.Type == redisconf.TypeCluster {
		return cfg, fmt.Errorf("metadata redisType: cluster is not supported by the lock store")
	}
	if cfg.Failover {
		return cfg, fmt.Errorf("metadata failover: Sentinel failover is not supported by the lock store")
	}
	return cfg, nil
}

// checkServer pings the server and refuses one with connected replicas.
func (s *Store) checkServer(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis lock store: error connecting to redis at %s: %w", s.host, err)
	}
	info, err := s.client.Info(ctx, "replication").Result()
	if err != nil {
		// Some Redis-compatible servers lack INFO; like Dapr, go on.
		s.log.Warn("cannot read replication info", "error", err)
		return nil
	}
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:")
		if ok && v != "0" {
			return fmt.Errorf("redis lock store: %s has %s connected replica(s); replication is not supported", s.host, v)
		}
	}
	return nil
}

// TryLock sets the key to owner if it does not exist, expiring after
// expiryInSeconds.
func (s *Store) TryLock(ctx context.Context, resourceID, owner string, expiryInSeconds int32) (bool, error) {
	if expiryInSeconds <= 0 {
		return false, fmt.Errorf("redis lock store: expiry must be positive, got %d", expiryInSeconds)
	}
	ok, err := s.client.SetNX(ctx, resourceID, owner, time.Duration(expiryInSeconds)*time.Second).Result()
	if err != nil {
		return false, fmt.Errorf("redis lock store: set %q: %w", resourceID, err)
	}
	return ok, nil
}

// Unlock deletes the key when owner holds it.
func (s *Store) Unlock(ctx context.Context, resourceID, owner string) (lock.UnlockStatus, error) {
	n, err := unlockScript.Run(ctx, s.client, []string{resourceID}, owner).Int()
	if err != nil {
		return lock.UnlockInternalError, fmt.Errorf("redis lock store: unlock %q: %w", resourceID, err)
	}
	switch n {
	case 1:
		return lock.UnlockSuccess, nil
	case 0:
		return lock.UnlockLockDoesNotExist, nil
	case -1:
		return lock.UnlockLockBelongsToOthers, nil
	}
	return lock.UnlockInternalError, fmt.Errorf("redis lock store: unlock %q: unexpected script result %d", resourceID, n)
}

// Close releases the connections.
func (s *Store) Close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}
