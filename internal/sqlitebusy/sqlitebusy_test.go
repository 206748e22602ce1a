package sqlitebusy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func TestIs(t *testing.T) {
	ctx := context.Background()
	conn, other := holdWriteLock(t)
	defer conn.ExecContext(ctx, "ROLLBACK")
	_, busyErr := other.BeginTx(ctx, nil)

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"write lock held elsewhere", busyErr, true},
		{"wrapped", fmt.Errorf("begin: %w", busyErr), true},
		{"other sqlite error", sqlErr(t, other), false},
		{"not sqlite", errors.New("database is locked"), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Is(tc.err); got != tc.want {
				t.Fatalf("Is(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// holdWriteLock opens a new file, takes its write lock on conn and
// returns it with a second pool on the file that never waits for a lock.
func holdWriteLock(t *testing.T) (conn *sql.Conn, other *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.db")
	holder, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if conn, err = holder.Conn(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), "CREATE TABLE t (x); BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if other, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_txlock=immediate"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return conn, other
}

// sqlErr is a syntax error from the driver.
func sqlErr(t *testing.T, db *sql.DB) error {
	_, err := db.Exec("SELEC 1")
	if err == nil {
		t.Fatal("bad SQL succeeded")
	}
	return err
}

func TestBeginTxWaitsForTheLock(t *testing.T) {
	ctx := context.Background()
	conn, other := holdWriteLock(t)

	if _, err := BeginTx(ctx, other, 0); !Is(err) {
		t.Fatalf("with no wait: %v, want the busy error", err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(30 * time.Millisecond)
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		released <- err
	}()
	tx, err := BeginTx(ctx, other, 10*time.Second)
	if err != nil {
		t.Fatalf("BeginTx did not wait for the lock to be released: %v", err)
	}
	tx.Rollback()
	if err := <-released; err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := BeginTx(cancelled, other, 10*time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
