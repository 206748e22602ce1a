package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// cleanupRunTimeout bounds one cleanup pass; deleting many rows can take a
// while, and Close cancels it anyway.
const cleanupRunTimeout = 10 * time.Minute

// startCleanup starts the background removal of expired rows, if enabled.
// Like Dapr, the first pass runs one interval after start.
func (s *Store) startCleanup() {
	if s.cfg.cleanupInterval <= 0 {
		return
	}
	s.cleanup = storeutil.Every(s.cfg.cleanupInterval, func(ctx context.Context) {
		n, err := s.CleanupExpired(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("postgresql: failed to remove expired state", "error", err)
		} else if n > 0 {
			s.log.Info("postgresql: removed expired state", "rows", n)
		}
	})
}

// CleanupExpired deletes expired rows unless another sidecar (Outrigger or
// Dapr) did so less than one cleanup interval ago, as recorded in the
// metadata table. It returns the number of rows deleted.
func (s *Store) CleanupExpired(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, cleanupRunTimeout)
	defer cancel()
	window := max(storeutil.CleanupWindow(s.cfg.cleanupInterval), 0)
	tag, err := s.db.Exec(ctx, s.l.cleanupGuardSQL, s.l.cleanupKey, window)
	if err != nil {
		return 0, fmt.Errorf("failed to update the last cleanup time: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, nil // cleaned up recently, by us or another sidecar
	}
	tag, err = s.db.Exec(ctx, s.l.cleanupSQL)
	if err != nil {
		return 0, fmt.Errorf("failed to delete expired rows: %w", err)
	}
	return tag.RowsAffected(), nil
}
