// Package sqlite is the lock.sqlite store, Outrigger's embedded default
// lock store (Dapr has no SQLite lock store). Locks live in one table of a
// SQLite file; sidecars on one host that point at the same file contend
// correctly, because every call runs in a transaction that takes the
// file's write lock when it begins (BEGIN IMMEDIATE).
//
// Layout:
//
//	<tableName>(resource_id TEXT PK, owner TEXT, expires_at INTEGER)
//
// expires_at is Unix milliseconds; a row whose expiry has passed is no lock
// at all, and is deleted by the next lock attempt. Expiry uses the
// sidecars' own clock, which is the same clock for every process on a host.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/sqlitebusy"
)

func init() {
	lock.Registry.Register("lock.sqlite", func() lock.Store { return New() })
}

// Store is the SQLite lock store.
type Store struct {
	cfg config
	// db has one connection: every call writes, SQLite has one writer at a
	// time, and queueing in Go is cheaper than spinning on SQLITE_BUSY.
	db  *sql.DB
	sql statements
	log *slog.Logger
	now func() time.Time // the clock; tests replace it

	closeOnce sync.Once
	closeErr  error
}

// New returns an uninitialised store.
func New() *Store {
	return &Store{log: slog.Default().With("component", "lock.sqlite"), now: time.Now}
}

// statements are the queries for the configured table.
type statements struct {
	deleteExpired, insert, owner, expiry, delete string
}

func newStatements(table string) statements {
	return statements{
		deleteExpired: `DELETE FROM ` + table + ` WHERE expires_at <= ?`,
		insert: `INSERT INTO ` + table + ` (resource_id, owner, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (resource_id) DO NOTHING`,
		owner:  `SELECT owner, expires_at FROM ` + table + ` WHERE resource_id = ?`,
		expiry: `SELECT expires_at FROM ` + table + ` WHERE resource_id = ?`,
		delete: `DELETE FROM ` + table + ` WHERE resource_id = ?`,
	}
}

// Init parses the metadata, opens the database and creates the table.
func (s *Store) Init(ctx context.Context, md lock.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("sqlite lock store: %w", err)
	}
	s.cfg = cfg
	s.sql = newStatements(cfg.tableName)
	if md.Name != "" {
		s.log = s.log.With("name", md.Name)
	}
	dsn, err := cfg.dsn()
	if err != nil {
		return fmt.Errorf("sqlite lock store: %w", err)
	}
	if s.db, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("sqlite lock store: open: %w", err)
	}
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	s.db.SetConnMaxLifetime(0)
	s.db.SetConnMaxIdleTime(0)
	if cfg.inMemory() {
		s.log.Warn("in-memory lock store: locks are not shared with other sidecars")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := s.createTable(ctx); err != nil {
		return fmt.Errorf("sqlite lock store: %q: %w", cfg.connString, err)
	}
	return nil
}

// createTable creates the table and its expiry index when missing, under
// the write lock so sidecars starting together do not race.
func (s *Store) createTable(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		t := s.cfg.tableName
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t+` (
			resource_id TEXT NOT NULL PRIMARY KEY,
			owner TEXT NOT NULL,
			expires_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("create table %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS `+t+`_expires_at ON `+t+` (expires_at)`); err != nil {
			return fmt.Errorf("create index on %s: %w", t, err)
		}
		return nil
	})
}

// inTx runs fn in an immediate transaction and commits it.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := sqlitebusy.BeginTx(ctx, s.db, s.cfg.busyTimeout)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// TryLock inserts the lock row unless an unexpired one exists. Expired rows
// (of any resource) are removed first, so the table only holds live locks
// and a lapsed lock can be taken over.
func (s *Store) TryLock(ctx context.Context, resourceID, owner string, expiryInSeconds int32) (bool, error) {
	if expiryInSeconds <= 0 {
		return false, fmt.Errorf("sqlite lock store: expiry must be positive, got %d", expiryInSeconds)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	held, err := s.held(ctx, resourceID)
	if err != nil || held {
		return false, err
	}
	var got bool
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// Read the clock once the write lock is held, so time spent
		// waiting for it does not shorten the lock.
		now := s.now().UnixMilli()
		if _, err := tx.ExecContext(ctx, s.sql.deleteExpired, now); err != nil {
			return fmt.Errorf("delete expired locks: %w", err)
		}
		res, err := tx.ExecContext(ctx, s.sql.insert, resourceID, owner, now+int64(expiryInSeconds)*1000)
		if err != nil {
			return fmt.Errorf("insert lock: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert lock: %w", err)
		}
		got = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite lock store: try lock %q: %w", resourceID, err)
	}
	return got, nil
}

// held reports whether an unexpired lock on the resource exists, without
// the write lock. A "yes" is a correct answer at the moment of the read, so
// contenders polling a held lock don't queue for the write lock and delay
// its owner's unlock; a "no" is confirmed under the write lock.
func (s *Store) held(ctx context.Context, resourceID string) (bool, error) {
	var expiresAt int64
	err := s.db.QueryRowContext(ctx, s.sql.expiry, resourceID).Scan(&expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite lock store: read lock %q: %w", resourceID, err)
	}
	return expiresAt > s.now().UnixMilli(), nil
}

// Unlock deletes the lock row when owner holds an unexpired lock.
func (s *Store) Unlock(ctx context.Context, resourceID, owner string) (lock.UnlockStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
	defer cancel()
	st := lock.UnlockInternalError
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		st, err = s.unlockTx(ctx, tx, resourceID, owner)
		return err
	})
	if err != nil {
		return lock.UnlockInternalError, fmt.Errorf("sqlite lock store: unlock %q: %w", resourceID, err)
	}
	return st, nil
}

func (s *Store) unlockTx(ctx context.Context, tx *sql.Tx, resourceID, owner string) (lock.UnlockStatus, error) {
	var holder string
	var expiresAt int64
	err := tx.QueryRowContext(ctx, s.sql.owner, resourceID).Scan(&holder, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return lock.UnlockLockDoesNotExist, nil
	}
	if err != nil {
		return lock.UnlockInternalError, fmt.Errorf("read lock: %w", err)
	}
	expired := expiresAt <= s.now().UnixMilli()
	if !expired && holder != owner {
		return lock.UnlockLockBelongsToOthers, nil
	}
	if _, err := tx.ExecContext(ctx, s.sql.delete, resourceID); err != nil {
		return lock.UnlockInternalError, fmt.Errorf("delete lock: %w", err)
	}
	if expired {
		return lock.UnlockLockDoesNotExist, nil
	}
	return lock.UnlockSuccess, nil
}

// Close closes the database. Calls after the first do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.db != nil {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}
