package actors

import (
	"context"
	"sync"
	"time"
)

// ownerCheckTimeout bounds one LookupActor inside TableUpdated when the
// placement client cannot answer without waiting (see TableReader).
const ownerCheckTimeout = time.Second

// TableUpdated deactivates every local actor this host no longer owns,
// waiting for in-flight calls where the type drains, before placement's
// update is acknowledged. Then reminders are re-balanced.
func (r *Runtime) TableUpdated(ctx context.Context) {
	r.gen.Add(1)
	var moved []*actor
	for _, a := range r.table.snapshot() {
		if !r.ownedNow(ctx, a.typ, a.id) {
			moved = append(moved, a)
		}
	}
	if len(moved) > 0 {
		r.log.Info("placement table changed; deactivating actors that moved", "count", len(moved))
	}
	r.drain(ctx, moved)
	if r.cfg.Reminders != nil && !r.closed.Load() {
		r.background(r.cfg.Reminders.Rebalance)
	}
}

// PlacementLost deactivates every local actor: placement may have given
// them to other hosts while this one was cut off.
func (r *Runtime) PlacementLost(ctx context.Context) {
	r.gen.Add(1)
	all := r.table.snapshot()
	if len(all) > 0 {
		r.log.Warn("lost placement; deactivating all actors", "count", len(all))
	}
	r.drain(ctx, all)
}

// ownedNow reports whether this host still owns an actor per the table in
// place.
func (r *Runtime) ownedNow(ctx context.Context, typ, id string) bool {
	if tr, ok := r.cfg.Placement.(TableReader); ok {
		h, err := tr.LookupActorNow(typ, id)
		return err == nil && h.Name == r.cfg.HostName
	}
	ctx, cancel := context.WithTimeout(ctx, ownerCheckTimeout)
	defer cancel()
	h, err := r.cfg.Placement.LookupActor(ctx, typ, id)
	return err == nil && h.Name == r.cfg.HostName
}

// drain deactivates actors in parallel: each stops taking calls at once,
// waits for its in-flight call (up to the type's drainOngoingCallTimeout
// when drainRebalancedActors is on), then is deactivated in the app.
func (r *Runtime) drain(ctx context.Context, actors []*actor) {
	if len(actors) == 0 {
		return
	}
	sem := make(chan struct{}, drainParallelism)
	var wg sync.WaitGroup
	for _, a := range actors {
		idle, ok := a.beginClose()
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if !ok {
				// Another deactivation owns it; still wait for it to end,
				// so the caller never returns while the actor is active.
				select {
				case <-a.gone:
				case <-ctx.Done():
				}
				return
			}
			tc := r.typeConfig(a.typ)
			if tc.drainActors {
				waitIdle(ctx, idle, tc.drainTimeout)
			}
			r.deactivate(ctx, a)
		}()
	}
	wg.Wait()
}

func waitIdle(ctx context.Context, idle <-chan struct{}, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}

// deactivate tells the app (if it saw the actor), drops the actor's
// timers and removes it from the table, releasing calls waiting to route
// again. The actor must already be closing.
func (r *Runtime) deactivate(ctx context.Context, a *actor) {
	if a.wasActivated() && r.cfg.App != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deactivateTimeout)
		err := r.cfg.App.Deactivate(dctx, a.typ, a.id)
		if err != nil {
			r.log.Warn("actor deactivation failed in the app", "actor_type", a.typ, "actor_id", a.id, "error", err)
		}
		r.cfg.Observer.ActorDeactivated(a.typ, err)
		cancel()
	}
	if r.cfg.Timers != nil {
		r.cfg.Timers.DeleteActor(a.typ, a.id)
	}
	r.table.remove(a)
}

// scanIdle deactivates actors idle longer than their type's
// actorIdleTimeout, until ctx ends.
func (r *Runtime) scanIdle(ctx context.Context) {
	for {
		// The app's configuration (and so the interval) usually arrives
		// after Run started: a new one restarts the wait, or the first
		// scan would come only after the 30s default.
		t := time.NewTimer(r.scanInterval())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.confChanged:
			t.Stop()
			continue
		case <-t.C:
		}
		r.deactivateIdle(ctx, time.Now())
	}
}

func (r *Runtime) scanInterval() time.Duration {
	if r.cfg.ScanInterval > 0 {
		return r.cfg.ScanInterval
	}
	d := defaultScanInterval
	if hc := r.conf.Load(); hc != nil && hc.minIdle/2 < d {
		d = max(hc.minIdle/2, 100*time.Millisecond)
	}
	return d
}

// deactivateIdle deactivates the actors idle at now.
func (r *Runtime) deactivateIdle(ctx context.Context, now time.Time) {
	var idle []*actor
	for _, a := range r.table.snapshot() {
		if a.closeIfIdle(now.Add(-r.typeConfig(a.typ).idleTimeout)) {
			idle = append(idle, a)
		}
	}
	if len(idle) == 0 {
		return
	}
	sem := make(chan struct{}, drainParallelism)
	var wg sync.WaitGroup
	for _, a := range idle {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r.deactivate(ctx, a)
		}()
	}
	wg.Wait()
}
