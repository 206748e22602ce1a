package sqliteread

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

func TestRowAndRows(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2)`); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := Row(ctx, db, `SELECT v FROM t WHERE k = ?`, []any{"b"}, &v); err != nil || v != 2 {
		t.Fatalf("Row = %d, %v; want 2", v, err)
	}
	if err := Row(ctx, db, `SELECT v FROM t WHERE k = ?`, []any{"zz"}, &v); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("Row of a missing key: %v, want sql.ErrNoRows", err)
	}
	sum := 0
	err = Rows(ctx, db, func(r *sql.Rows) error {
		var n int
		if err := r.Scan(&n); err != nil {
			return err
		}
		sum += n
		return nil
	}, `SELECT v FROM t`)
	if err != nil || sum != 3 {
		t.Fatalf("Rows sum = %d, %v; want 3", sum, err)
	}
	// A read whose context is already over fails and leaves the pool usable.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Row(cctx, db, `SELECT v FROM t WHERE k = ?`, []any{"a"}, &v); err == nil {
		t.Fatal("a read with a cancelled context succeeded")
	}
	if err := Row(ctx, db, `SELECT v FROM t WHERE k = ?`, []any{"a"}, &v); err != nil || v != 1 {
		t.Fatalf("Row after a cancelled read = %d, %v", v, err)
	}
}
