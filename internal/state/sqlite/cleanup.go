package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// claimCleanup and deleteExpired are the two statements of the shared
// expired-row cleanup (storeutil.CleanupExpired). Sidecars sharing the
// database take turns through the metadata table's 'last-cleanup' row, as
// Dapr's do.
func (s *Store) claimCleanup(ctx context.Context, args ...any) (sql.Result, error) {
	return s.wdb.ExecContext(ctx, s.sql.claimClean, args...)
}

// deleteExpired takes the time at which rows count as expired when it runs.
func (s *Store) deleteExpired(ctx context.Context, _ ...any) (sql.Result, error) {
	return s.wdb.ExecContext(ctx, s.sql.delExpired, sqlTime(time.Now()))
}
