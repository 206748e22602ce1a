// Package mysql is the state.mysql store (MySQL and MariaDB), with the same
// schema and table layout as Dapr's MySQL state store so either can read
// the other's data:
//
//	<schemaName>.<tableName>(id VARCHAR(255) PK, value JSON, isbinary BOOLEAN,
//	    insertDate TIMESTAMP, updateDate TIMESTAMP, eTag VARCHAR(36),
//	    expiredate TIMESTAMP NULL)
//	<schemaName>.<metadataTableName>(id VARCHAR(255) PK, value TEXT)
//
// JSON values are stored as they are; binary values as a JSON string of
// their base64 with isbinary=1. ETags are random UUIDs.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

func init() {
	state.Registry.Register("state.mysql", func() state.Store { return New() })
}

// Store is the MySQL state store.
type Store struct {
	cfg     config
	db      *sql.DB
	stmts   *statements
	cleaner *storeutil.Periodic // nil when the cleanup is disabled
	log     *slog.Logger

	closeOnce sync.Once
}

// New returns an uninitialised store.
func New() *Store {
	return &Store{log: slog.Default().With("component", "state.mysql")}
}

// Init parses the metadata, creates the schema and tables when missing,
// and starts the expired-row cleanup.
func (s *Store) Init(ctx context.Context, md state.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	s.cfg = cfg
	if md.Name != "" {
		s.log = s.log.With("name", md.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := s.ensureSchema(ctx); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	dc := cfg.driver.Clone()
	dc.DBName = cfg.schemaName
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	s.db = sql.OpenDB(conn)
	// Keep enough idle connections for a busy sidecar: reopening one costs
	// a handshake (and TLS) per burst.
	s.db.SetMaxIdleConns(16)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.ensureTables(ctx); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	if s.stmts, err = prepare(ctx, s.db, cfg.tableName, cfg.metadataTableName); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	if cfg.cleanupInterval > 0 {
		// Sidecars sharing the table take turns through the metadata
		// table's 'last-cleanup' row, as Dapr's do.
		s.cleaner = storeutil.StartCleanup(cfg.cleanupInterval, cfg.timeout, s.log,
			s.stmts.claimClean.ExecContext, s.stmts.delExpired.ExecContext)
	}
	return nil
}

// ensureSchema creates the schema (database) if it does not exist. It
// checks first, so a user allowed to use but not to create it still works.
func (s *Store) ensureSchema(ctx context.Context) error {
	dc := s.cfg.driver.Clone()
	dc.DBName = ""
	conn, err := mysql.NewConnector(dc)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var exists int
	err = db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?`, s.cfg.schemaName).Scan(&exists)
	if err != nil {
		return fmt.Errorf("check schema %s: %w", s.cfg.schemaName, err)
	}
	if exists > 0 {
		return nil
	}
	s.log.Info("creating schema", "schema", s.cfg.schemaName)
	if _, err := db.ExecContext(ctx, `CREATE DATABASE IF NOT EXISTS `+s.cfg.schemaName); err != nil {
		return fmt.Errorf("create schema %s: %w", s.cfg.schemaName, err)
	}
	return nil
}

// ensureTables creates the state and metadata tables with Dapr's layout,
// and adds the expiredate column to tables from before Dapr 1.11.
func (s *Store) ensureTables(ctx context.Context) error {
	// The id column is case- and accent-sensitive (utf8mb4_bin): state
	// keys are opaque, and "Key" and "key" must not collide. Otherwise the
	// columns are Dapr's.
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.cfg.tableName + ` (
			id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
			value JSON NOT NULL,
			isbinary BOOLEAN NOT NULL,
			insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
			updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
			eTag VARCHAR(36) NOT NULL,
			expiredate TIMESTAMP NULL,
			INDEX expiredate_idx(expiredate)
		)`,
		`CREATE TABLE IF NOT EXISTS ` + s.cfg.metadataTableName + ` (
			id VARCHAR(255) NOT NULL PRIMARY KEY,
			value TEXT NOT NULL
		)`,
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.columns
		WHERE table_schema = ? AND table_name = ? AND column_name = 'expiredate'`,
		s.cfg.schemaName, s.cfg.tableName).Scan(&n)
	if err != nil {
		return fmt.Errorf("check expiredate column: %w", err)
	}
	if n > 0 {
		return nil
	}
	s.log.Info("adding expiredate column", "table", s.cfg.tableName)
	for _, q := range []string{
		`ALTER TABLE ` + s.cfg.tableName + ` ADD COLUMN expiredate TIMESTAMP NULL`,
		`CREATE INDEX expiredate_idx ON ` + s.cfg.tableName + ` (expiredate)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("add expiredate column: %w", err)
		}
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
	}
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.db == nil {
		return errors.New("mysql: not initialised")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return s.db.PingContext(ctx)
}

// Close stops the cleanup and closes the connections. Calls after the
// first do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cleaner.Stop()
		if s.stmts != nil {
			// Best effort: a statement on a connection the server already
			// dropped fails to close, and closing the pool frees it anyway.
			s.stmts.close()
		}
		if s.db != nil {
			// The only errors here come from saying goodbye on connections
			// the server already dropped; the driver frees them either
			// way, so there is nothing for the caller to act on.
			if err := s.db.Close(); err != nil {
				s.log.Debug("closing connections", "err", err)
			}
		}
	})
	return nil
}

// opContext bounds one operation by the configured timeout.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return storeutil.OpContext(ctx, s.cfg.timeout)
}
