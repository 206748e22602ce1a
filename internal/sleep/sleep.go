// Package sleep waits for a duration or until a context ends, whichever
// comes first: the pause between retries, reconnects and polls.
package sleep

import (
	"context"
	"time"
)

// Wait waits d, or until ctx ends: nil after the whole wait, ctx.Err()
// otherwise. A d of zero or less does not wait.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// For is Wait as a boolean: whether the whole wait passed.
func For(ctx context.Context, d time.Duration) bool { return Wait(ctx, d) == nil }
