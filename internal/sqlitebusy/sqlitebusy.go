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

// Retry calls fn until it succeeds, fails with anything but a busy
// answer, or wait has passed. The driver's busy timeout covers a writer
// holding the file; this covers the cases it does not, such as sidecars
// that start together on one new file (opening a connection switches the
// file to WAL mode, and that is what answers busy at once).
func Retry(ctx context.Context, wait time.Duration, fn func() error) error {
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		err := fn()
		if err == nil || !Is(err) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// BeginTx begins a transaction on db, with Retry.
func BeginTx(ctx context.Context, db *sql.DB, wait time.Duration) (*sql.Tx, error) {
	var tx *sql.Tx
	err := Retry(ctx, wait, func() error {
		var err error
		tx, err = db.BeginTx(ctx, nil)
		return err
	})
	return tx, err
}
