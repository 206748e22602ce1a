// Package sqlitebusy tells when SQLite refused an operation because
// another connection holds the file, so the caller may try again.
package sqlitebusy

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Is reports SQLITE_BUSY or SQLITE_LOCKED, with any extended code. SQLite
// returns these at once, without waiting for the busy timeout, in a few
// cases: a new file being switched to WAL mode by another process, WAL
// recovery, a shared-cache table lock.
func Is(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff // the primary code, without the extended part
	return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
}

// Retrier calls an operation again while SQLite answers busy at once.
// The driver's busy timeout covers a writer holding the file; this covers
// the cases it does not, such as sidecars that start together on one new
// file (opening a connection switches the file to WAL mode, and that is
// what answers busy at once), and writers that want shorter pauses than
// SQLite's own busy handler takes.
type Retrier struct {
	// Wait bounds the time spent retrying.
	Wait time.Duration
	// First is the first pause, doubled after each try up to Max; zero
	// means 1 ms and 50 ms.
	First, Max time.Duration
	// OnPause, if set, is called before each pause.
	OnPause func()
}

// Do calls fn until it succeeds, fails with anything but a busy answer,
// or Wait has passed.
func (r Retrier) Do(ctx context.Context, fn func() error) error {
	pause, most := r.First, r.Max
	if pause <= 0 {
		pause = time.Millisecond
	}
	if most <= 0 {
		most = 50 * time.Millisecond
	}
	deadline := time.Now().Add(r.Wait)
	var timer *time.Timer
	for {
		err := fn()
		if err == nil || !Is(err) || time.Now().After(deadline) {
			return err
		}
		if r.OnPause != nil {
			r.OnPause()
		}
		if timer == nil {
			timer = time.NewTimer(pause)
			defer timer.Stop()
		} else {
			timer.Reset(pause)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		pause = min(2*pause, most)
	}
}

// Retry is Retrier{Wait: wait}.Do.
func Retry(ctx context.Context, wait time.Duration, fn func() error) error {
	return Retrier{Wait: wait}.Do(ctx, fn)
}

// BeginTx begins a transaction on db, with Retry.
func BeginTx(ctx context.Context, db *sql.DB, wait time.Duration) (*sql.Tx, error) {
	return Retrier{Wait: wait}.BeginTx(ctx, db)
}

// BeginTx begins a transaction on db, with r.
func (r Retrier) BeginTx(ctx context.Context, db *sql.DB) (*sql.Tx, error) {
	var tx *sql.Tx
	err := r.Do(ctx, func() error {
		var err error
		tx, err = db.BeginTx(ctx, nil)
		return err
	})
	return tx, err
}
