package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// readRows runs a query on a reader connection and hands each row to scan.
//
// The driver interrupts a statement whose context ends while it steps, and
// that can leave the connection inside its read transaction, pinned to an
// old snapshot: later reads on it would miss newer commits. So a connection
// whose read was cancelled is discarded instead of going back to the pool.
func (s *Store) readRows(ctx context.Context, scan func(*sql.Rows) error, query string, args ...any) (err error) {
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if ctx.Err() != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}()
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
}
