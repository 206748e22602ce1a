package storeutil

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Periodic is a goroutine that calls a function at a fixed interval until
// Stop. It owns the goroutine: Stop waits for it to end.
type Periodic struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Every calls fn every interval until Stop. Like Dapr's cleanup, the first
// call comes one interval after the start. fn's context is cancelled by
// Stop.
func Every(interval time.Duration, fn func(ctx context.Context)) *Periodic {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Periodic{cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	return p
}

// Stop cancels a call in progress and waits for the goroutine to end. It
// does nothing on a nil Periodic, and later calls do nothing either.
func (p *Periodic) Stop() {
	if p == nil {
		return
	}
	p.cancel()
	p.wg.Wait()
}

// StartCleanup runs CleanupExpired every interval, each pass bounded by
// timeout, and logs what it removed. An error caused by Stop is not worth a
// log line.
func StartCleanup(interval, timeout time.Duration, log *slog.Logger, claim, del Exec) *Periodic {
	return Every(interval, func(ctx context.Context) {
		passCtx, cancel := OpContext(ctx, timeout)
		n, err := CleanupExpired(passCtx, interval, claim, del)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Error("removing expired state failed", "err", err)
		} else if n > 0 {
			log.Debug("removed expired state", "rows", n)
		}
	})
}

// CleanupWindow is the interval, in milliseconds, that the claim of the
// 'last-cleanup' row compares against. It leaves 100ms of slack for timer
// jitter: a whole interval would skip every other round when ticks arrive
// a little early.
func CleanupWindow(interval time.Duration) int64 {
	return interval.Milliseconds() - 100
}

// Exec runs one statement with args; (*sql.Stmt).ExecContext is one.
type Exec func(ctx context.Context, args ...any) (sql.Result, error)

// CleanupExpired runs one cleanup pass among sidecars sharing a database,
// as Dapr's stores coordinate it: claim, given CleanupWindow(interval),
// updates the 'last-cleanup' row of the metadata table only when the last
// pass is older than that, so a claim that changed no row means another
// process had this turn. Otherwise del, given no arguments, deletes the
// expired rows. It returns the rows deleted.
func CleanupExpired(ctx context.Context, interval time.Duration, claim, del Exec) (int64, error) {
	res, err := claim(ctx, CleanupWindow(interval))
	if err != nil {
		return 0, fmt.Errorf("update last-cleanup: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, err
	}
	res, err = del(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired rows: %w", err)
	}
	return res.RowsAffected()
}
