package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// maxAttempts bounds retries after a lost connection.
const maxAttempts = 3

// withRetry runs fn, and runs it again when it failed because the server
// had already dropped the session (restart, failover, terminated backend).
// Such failures are safe to repeat: the statement never ran, and a
// transaction cut off before COMMIT is rolled back by the server. On those
// errors the pool is reset, since the other pooled sessions are most likely
// gone too.
func (s *Store) withRetry(ctx context.Context, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		if err == nil || attempt == maxAttempts || !sessionLost(err) || ctx.Err() != nil {
			return err
		}
		s.log.Debug("postgresql: connection lost, retrying", "attempt", attempt, "error", err)
		s.db.Reset()
	}
}

// sessionLost reports errors that mean the statement was not executed
// because the session was gone before it arrived.
func sessionLost(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", // admin_shutdown (pg_terminate_backend, smart/fast shutdown)
			"57P02", // crash_shutdown
			"57P03": // cannot_connect_now (server starting up)
			return true
		}
	}
	return false
}
