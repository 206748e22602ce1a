// Package sqlite is the state.sqlite store: the embedded default, on the
// pure-Go modernc.org/sqlite driver, with the same table layout as Dapr's
// SQLite state store so either can read the other's data.
//
// Layout (Dapr's migration 1, recorded as migrations=1 in the metadata
// table):
//
//	<tableName>(key TEXT PK, value TEXT, is_binary BOOLEAN, etag TEXT,
//	            expiration_time TIMESTAMP NULL, update_time TIMESTAMP)
//	<metadataTableName>(key TEXT PK, value TEXT)
//
// JSON values are stored as their text; binary values base64-encoded with
// is_binary=1. ETags are random UUIDs. expiration_time is UTC text
// ("YYYY-MM-DD HH:MM:SS[.SSS]") compared as text, as Dapr does.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/outrigger/outrigger/internal/sqlitebusy"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

func init() {
	state.Registry.Register("state.sqlite", func() state.Store { return New() })
	state.Registry.Register("state.sqlite3", func() state.Store { return New() })
}

// schemaVersion is the migration level Dapr records for this layout.
const schemaVersion = 1

// Store is the SQLite state store.
type Store struct {
	cfg config
	// wdb has a single connection: SQLite allows one writer at a time, and
	// queueing writers in Go is cheaper and fairer than letting them spin
	// on SQLITE_BUSY. rdb serves reads concurrently (WAL readers never
	// block). For in-memory databases both are the same one connection.
	wdb, rdb *sql.DB
	sql      statements
	cleaner  *storeutil.Periodic // nil when the cleanup is disabled
	log      *slog.Logger

	closeOnce sync.Once
	closeErr  error
}

// New returns an uninitialised store.
func New() *Store {
	return &Store{log: slog.Default().With("component", "state.sqlite")}
}

// Init parses the metadata, opens the database, creates the tables when
// missing and starts the expired-row cleanup.
func (s *Store) Init(ctx context.Context, md state.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	s.cfg = cfg
	if md.Name != "" {
		s.log = s.log.With("name", md.Name)
	}
	if err := s.open(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := sqlitebusy.Retry(ctx, cfg.busyTimeout, func() error { return s.wdb.PingContext(ctx) }); err != nil {
		return fmt.Errorf("sqlite: open %q: %w", cfg.connString, err)
	}
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	s.sql = newStatements(cfg.tableName, cfg.metadataTableName)
	if cfg.cleanupInterval > 0 {
		s.cleaner = storeutil.StartCleanup(cfg.cleanupInterval, cfg.timeout, s.log, s.claimCleanup, s.deleteExpired)
	}
	return nil
}

// open creates the connection pools.
func (s *Store) open() error {
	dsn, err := s.cfg.dsn()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if s.wdb, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.cfg.inMemory() {
		// Each connection to ":memory:" is its own database: keep one.
		s.rdb = s.wdb
		return nil
	}
	if s.rdb, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("sqlite: open: %w", err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(readers)
	s.rdb.SetMaxIdleConns(readers)
	s.rdb.SetConnMaxIdleTime(0)
	return nil
}

// migrate brings the schema to Dapr's layout, under the write lock so
// sidecars sharing the file do not race.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := sqlitebusy.BeginTx(ctx, s.wdb, s.cfg.busyTimeout)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	meta := s.cfg.metadataTableName
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+meta+` (
		key text NOT NULL PRIMARY KEY,
		value text NOT NULL
	)`); err != nil {
		return fmt.Errorf("create metadata table %s: %w", meta, err)
	}
	level := 0
	var v string
	err = tx.QueryRowContext(ctx, `SELECT value FROM `+meta+` WHERE key = 'migrations'`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("read migration level: %w", err)
	default:
		if level, err = strconv.Atoi(v); err != nil || level < 0 {
			return fmt.Errorf("invalid migration level %q in table %s", v, meta)
		}
	}
	if level >= schemaVersion {
		return tx.Commit()
	}
	// IF NOT EXISTS: tables from before Dapr kept a metadata table.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.cfg.tableName+` (
		key TEXT NOT NULL PRIMARY KEY,
		value TEXT NOT NULL,
		is_binary BOOLEAN NOT NULL,
		etag TEXT NOT NULL,
		expiration_time TIMESTAMP DEFAULT NULL,
		update_time TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
	)`); err != nil {
		return fmt.Errorf("create state table %s: %w", s.cfg.tableName, err)
	}
	if _, err := tx.ExecContext(ctx, `REPLACE INTO `+meta+` (key, value) VALUES ('migrations', ?)`,
		strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("record migration level: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// Features lists the store's capabilities.
func (s *Store) Features() []state.Feature {
	return []state.Feature{
		state.FeatureETag,
		state.FeatureTransactional,
		state.FeatureTTL,
		state.FeatureKeysLike,
		// Dapr's SQLite store has no query API; ours runs queries in Go.
		state.FeatureQueryAPI,
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.rdb == nil {
		return errors.New("sqlite: not initialised")
	}
	return s.rdb.PingContext(ctx)
}

// Close stops the cleanup and closes the database. Calls after the first
// do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cleaner.Stop()
		var errs []error
		if s.rdb != nil && s.rdb != s.wdb {
			errs = append(errs, s.rdb.Close())
		}
		if s.wdb != nil {
			errs = append(errs, s.wdb.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
