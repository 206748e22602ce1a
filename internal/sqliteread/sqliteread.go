// Package sqliteread runs reads on a pooled SQLite reader connection
// safely. The driver interrupts a statement whose context ends while it
// steps, and that can leave the connection inside its read transaction,
// pinned to an old snapshot: later reads on it would miss newer commits.
// So a connection whose read was cancelled is discarded instead of going
// back to the pool.
package sqliteread

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// Rows runs query on a connection from db and hands each row to scan.
func Rows(ctx context.Context, db *sql.DB, scan func(*sql.Rows) error, query string, args ...any) error {
	return withConn(ctx, db, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// Row runs a one-row query on a connection from db and scans it into dest;
// sql.ErrNoRows when there is none.
func Row(ctx context.Context, db *sql.DB, query string, args []any, dest ...any) error {
	return withConn(ctx, db, func(conn *sql.Conn) error {
		return conn.QueryRowContext(ctx, query, args...).Scan(dest...)
	})
}

func withConn(ctx context.Context, db *sql.DB, fn func(*sql.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if ctx.Err() != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
	return fn(conn)
}
