// Package postgres is the PostgreSQL state store (state.postgresql, alias
// state.postgres), in both of Dapr's table layouts: v1 (the default; JSONB
// values, xmin ETags, query API) and v2 (bytea values, uuid ETags). Tables
// written by Dapr's store are read here and the other way round.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

func init() {
	for _, name := range []string{"state.postgresql", "state.postgres"} {
		state.Registry.Register(name, NewV1, "v1")
		state.Registry.Register(name, NewV2, "v2")
	}
}

// Store is a PostgreSQL state store. Create it with New, NewV1 or NewV2.
type Store struct {
	v2  bool
	cfg config
	l   *layout
	db  *pgxpool.Pool
	log *slog.Logger

	// The cleanup goroutine is owned by the store: Close stops it and
	// waits. nil when the cleanup is disabled.
	cleanup *storeutil.Periodic
}

// New returns a store for a component version: "v2", or v1 for "", "v0" and
// "v1". Unknown versions get v1; the registry rejects them before this.
func New(version string) state.Store {
	if version == "v2" {
		return NewV2()
	}
	return NewV1()
}

// NewV1 returns a store using Dapr's v1 table layout, with the query API.
func NewV1() state.Store { return &queryStore{&Store{}} }

// NewV2 returns a store using Dapr's v2 table layout.
func NewV2() state.Store { return &Store{v2: true} }

// Init parses the metadata, connects, and creates the tables if needed.
func (s *Store) Init(ctx context.Context, md state.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	l, err := newLayout(cfg, s.v2)
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	pc, err := cfg.poolConfig()
	if err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	s.cfg, s.l = cfg, l
	s.log = slog.Default().With("component", md.Name, "type", s.typeName())

	db, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("postgresql: failed to create the connection pool: %w", err)
	}
	if err := s.prepare(ctx, db); err != nil {
		db.Close()
		return err
	}
	s.db = db
	s.startCleanup()
	return nil
}

// prepare checks connectivity and runs the migrations.
func (s *Store) prepare(ctx context.Context, db *pgxpool.Pool) error {
	pingCtx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		return fmt.Errorf("postgresql: failed to connect to the database: %w", err)
	}
	if err := migrate(ctx, db, s.l, s.cfg.timeout); err != nil {
		return fmt.Errorf("postgresql: %w", err)
	}
	return nil
}

func (s *Store) typeName() string {
	if s.v2 {
		return "state.postgresql/v2"
	}
	return "state.postgresql/v1"
}

// Features lists what this layout supports.
func (s *Store) Features() []state.Feature {
	fs := []state.Feature{state.FeatureETag, state.FeatureTransactional, state.FeatureTTL, state.FeatureKeysLike}
	if !s.v2 {
		fs = append(fs, state.FeatureQueryAPI)
	}
	return fs
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	return s.db.Ping(ctx)
}

// Close stops the cleanup and closes the pool.
func (s *Store) Close() error {
	s.cleanup.Stop()
	s.cleanup = nil
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
	return nil
}

// opContext bounds one operation by the configured timeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.timeout)
}

// ttlArg turns request metadata into the ttl argument (nil = no expiry).
// A TTL of zero or less means the item never expires, as in Dapr's store.
func ttlArg(md map[string]string) (*int64, error) {
	d, ok, err := storeutil.TTL(md)
	if err != nil || !ok {
		return nil, err
	}
	secs := int64(d / time.Second)
	return &secs, nil
}
