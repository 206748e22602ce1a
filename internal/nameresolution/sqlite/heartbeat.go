package sqlite

import (
	"context"
	"fmt"
	"time"
)

// register writes this sidecar's row. REPLACE takes over a row left with
// the same address by a predecessor that died without deregistering (the
// address column is unique).
func (r *Resolver) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	_, err := r.db.ExecContext(ctx, fmt.Sprintf(
		`REPLACE INTO %s (registration_id, address, app_id, namespace, last_update)
VALUES (?, ?, ?, ?, unixepoch(CURRENT_TIMESTAMP))`, r.cfg.table),
		r.regID, r.address, r.appID, r.ns)
	if err != nil {
		return fmt.Errorf("register %s: %w", r.address, err)
	}
	return nil
}

// heartbeatLoop refreshes the row every half update interval: a Dapr
// reader treats a row as live only while it is younger than one interval,
// counted in whole seconds, so one interval minus the timeout (Dapr's own
// pace) can let the row blink out.
func (r *Resolver) heartbeatLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.updateInterval / 2)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			if err := r.heartbeat(); err != nil && r.ctx.Err() == nil {
				r.log.Warn("name resolution heartbeat failed", "error", err)
			}
		}
	}
}

func (r *Resolver) heartbeat() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.timeout)
	defer cancel()
	res, err := r.db.ExecContext(ctx, fmt.Sprintf(
		`UPDATE %s SET last_update = unixepoch(CURRENT_TIMESTAMP) WHERE registration_id = ? AND address = ?`, r.cfg.table),
		r.regID, r.address)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	// The row is gone: removed as stale after a long stall, or by another
	// sidecar's cleanup. Dapr exits here; registering again keeps this
	// sidecar reachable instead.
	r.log.Warn("name resolution registration was lost; registering again", "address", r.address)
	return r.register(r.ctx)
}

// cleanupLoop deletes rows whose sidecars stopped heartbeating without
// deregistering. The metadata key "nr-last-cleanup" (shared with Dapr)
// makes only one sidecar per interval do it.
func (r *Resolver) cleanupLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.cleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			if n, err := r.cleanup(); err != nil && r.ctx.Err() == nil {
				r.log.Warn("name resolution cleanup failed", "error", err)
			} else if n > 0 {
				r.log.Debug("removed stale name resolution rows", "count", n)
			}
		}
	}
}

// cleanup removes stale rows if no sidecar did so within the last interval,
// and returns how many it removed.
func (r *Resolver) cleanup() (int64, error) {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.timeout)
	defer cancel()
	// A second of slack so sidecars on the same schedule do not skip a
	// round because the last one ran a moment too recently.
	minAge := int64(r.cfg.cleanupInterval/time.Second) - 1
	res, err := r.db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (key, value) VALUES ('nr-last-cleanup', CURRENT_TIMESTAMP)
ON CONFLICT (key) DO UPDATE SET value = CURRENT_TIMESTAMP
WHERE unixepoch(CURRENT_TIMESTAMP) - unixepoch(value) > ?`, r.cfg.metadataTable), minAge)
	if err != nil {
		return 0, fmt.Errorf("claim cleanup: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, nil // someone else cleaned up recently
	}
	res, err = r.db.ExecContext(ctx, fmt.Sprintf(
		`DELETE FROM %s WHERE last_update <= unixepoch(CURRENT_TIMESTAMP) - ?`, r.cfg.table), r.liveSeconds())
	if err != nil {
		return 0, fmt.Errorf("delete stale rows: %w", err)
	}
	return res.RowsAffected()
}
