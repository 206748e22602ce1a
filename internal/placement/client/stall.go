package client

import (
	"context"
	"errors"
	"time"
)

// A sidecar that was frozen (SIGSTOP, a VM pause, a long stall of the
// machine) wakes up with the table it had before. Placement may have given
// its actors to other hosts meanwhile, and the stream's end is only noticed
// a moment later, so for that moment the old table would let it run actors
// that are active elsewhere. The client therefore watches its own clock: a
// gap between two ticks much longer than the tick means the process did not
// run, and the table is suspect until placement sends a fresh one.
const (
	stallTick      = 100 * time.Millisecond
	stallThreshold = time.Second
)

// errStalled ends the stream after a stall, so the client reconnects and
// placement sends the current table.
var errStalled = errors.New("this process stalled; asking placement for the current table")

// watchStalls ticks until ctx ends, marking the table suspect after a gap.
func (c *Client) watchStalls(ctx context.Context) {
	c.lastTick.Store(int64(time.Since(c.born)))
	t := time.NewTicker(stallTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.checkStall()
		}
	}
}

// checkStall marks the table suspect when the last tick is too long ago,
// and records a tick. Lookups call it too: after a freeze a lookup may run
// before the ticker does.
func (c *Client) checkStall() {
	now := int64(time.Since(c.born))
	last := c.lastTick.Swap(now)
	if last == 0 || time.Duration(now-last) < stallThreshold {
		return
	}
	c.mu.Lock()
	v := c.view.Load()
	if v.hasTable && !v.suspect {
		c.publish(func(v *view) { v.suspect = true })
		c.poke(c.restart)
		c.log.Warn("This process did not run for a while; holding actor lookups until placement sends the current table",
			"stalled", time.Duration(now-last).Round(time.Millisecond))
	}
	c.mu.Unlock()
}

// watchRestart ends the session when a stall asks for a fresh table.
func (s *session) watchRestart(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.c.restart:
		s.cancel(errStalled)
	}
}
