package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/sqlitebusy"
)

// Waiting for the write lock. The sidecars sharing a file take turns on
// SQLite's single write lock. SQLite's own busy handler sleeps 1, 2, 5,
// 10, 15… ms between attempts, much longer than one of our write
// transactions holds the lock, and a writer that keeps missing it falls
// further behind with each attempt: with a publisher committing
// continuously, a subscriber's claims waited about 10 ms each. So the
// write connection has no busy timeout and beginWrite retries itself,
// with short sleeps, for up to busyTimeout.
const (
	firstLockWait = 50 * time.Microsecond
	maxLockWait   = time.Millisecond
)

// beginWrite starts a write transaction (BEGIN IMMEDIATE: it takes the
// write lock), waiting while another connection holds the lock.
func (b *Broker) beginWrite(ctx context.Context) (*sql.Tx, error) {
	r := sqlitebusy.Retrier{Wait: b.cfg.busyTimeout, First: firstLockWait, Max: maxLockWait,
		OnPause: func() { b.lockWaits.Add(1) }}
	tx, err := r.BeginTx(ctx, b.wdb)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for the write lock: %w", err)
	}
	return tx, err
}

// inWrite runs fn in a write transaction and commits it.
func (b *Broker) inWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := b.beginWrite(ctx)
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
