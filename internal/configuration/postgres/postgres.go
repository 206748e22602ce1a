// Package postgres is the configuration.postgresql store (alias
// configuration.postgres), reading the table layout Dapr's store uses: the
// columns KEY, VALUE, VERSION and METADATA (JSON). The table belongs to the
// user; the store never creates or changes it.
//
// Subscriptions LISTEN on a notification channel (metadata notifyChannel,
// or pgNotifyChannel in the subscribe request). A trigger the user creates
// fills it: on every change it sends pg_notify(channel, payload) with a
// JSON payload whose "data" member is the changed row (row_to_json of NEW,
// or of OLD for a delete), so a deletion is delivered with the deleted
// row's value, as in Dapr.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outrigger/outrigger/internal/configuration"
)

func init() {
	for _, name := range []string{"configuration.postgresql", "configuration.postgres"} {
		configuration.Registry.Register(name, New)
	}
}

// Store is the PostgreSQL configuration store.
type Store struct {
	log *slog.Logger
	cfg config
	db  *pgxpool.Pool

	// ctx lives from Init to Close; every subscription stops with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	subs   map[string]*subscription
	closed bool
}

// New returns an uninitialised store.
func New() configuration.Store {
	return &Store{log: slog.Default().With("component", "configuration.postgresql"), subs: map[string]*subscription{}}
}

// Init parses the metadata, connects and checks that the table exists.
func (s *Store) Init(ctx context.Context, md configuration.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("configuration.postgresql: %w", err)
	}
	pc, err := cfg.poolConfig()
	if err != nil {
		return fmt.Errorf("configuration.postgresql: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("configuration.postgresql: creating the connection pool: %w", err)
	}
	s.cfg, s.db = cfg, db
	if err := s.checkTable(ctx); err != nil {
		db.Close()
		return fmt.Errorf("configuration.postgresql: %w", err)
	}
	s.log = s.log.With("name", md.Name)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return nil
}

// checkTable fails unless the configured table exists. to_regclass
// resolves the name the way the queries will (search_path, case folding).
func (s *Store) checkTable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	var exists bool
	if err := s.db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.cfg.table).Scan(&exists); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	if !exists {
		return fmt.Errorf("table %s does not exist", s.cfg.table)
	}
	return nil
}

// Get reads the rows of keys (every row when keys is empty).
func (s *Store) Get(ctx context.Context, keys []string, _ map[string]string) (map[string]*configuration.Item, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	q := "SELECT key, value, version, metadata FROM " + s.cfg.table
	var args []any
	if len(keys) > 0 {
		q += " WHERE key = ANY($1)"
		args = append(args, keys)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", s.cfg.table, err)
	}
	defer rows.Close()
	out := map[string]*configuration.Item{}
	for rows.Next() {
		var key string
		var value, version *string
		var md []byte
		if err := rows.Scan(&key, &value, &version, &md); err != nil {
			return nil, fmt.Errorf("reading a row of %s: %w", s.cfg.table, err)
		}
		it := &configuration.Item{Value: deref(value), Version: deref(version)}
		if it.Metadata, err = parseMetadata(md); err != nil {
			return nil, fmt.Errorf("metadata of key %q: %w", key, err)
		}
		out[key] = it
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("querying %s: %w", s.cfg.table, err)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseMetadata reads a JSON object of metadata. Values that are not
// strings keep their JSON text, so nothing the user stored is dropped.
func parseMetadata(raw []byte) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, errors.New("not a JSON object")
	}
	if len(fields) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(fields))
	for k, v := range fields {
		out[k] = jsonText(v)
	}
	return out, nil
}

// jsonText is a JSON string's content, or any other value's JSON text
// ("" for null).
func jsonText(v json.RawMessage) string {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// Close stops every subscription and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed || s.db == nil {
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
	s.db.Close()
	return nil
}
