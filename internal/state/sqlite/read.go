package sqlite

import (
	"context"
	"database/sql"

	"github.com/outrigger/outrigger/internal/sqliteread"
)

// readRows runs a query on a reader connection and hands each row to scan;
// see package sqliteread for why cancelled reads drop their connection.
func (s *Store) readRows(ctx context.Context, scan func(*sql.Rows) error, query string, args ...any) error {
	return sqliteread.Rows(ctx, s.rdb, scan, query, args...)
}
