package actors

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errGone means the actor is being deactivated: the caller waits for
// actor.gone and routes the call again.
var errGone = errors.New("actor is being deactivated")

// actor is one active actor: a turn-based lock (one call at a time, FIFO,
// except calls that re-enter with the holder's reentrancy id) and the
// bookkeeping for idle and rebalance deactivation.
type actor struct {
	typ, id string

	mu      sync.Mutex
	busy    bool
	holder  string // reentrancy id of the calls holding the turn ("" = none)
	depth   int    // calls holding the turn (nested re-entries count)
	waiters []*waiter
	// activated: the app has seen a call, so deactivation must tell it.
	activated bool
	lastUsed  time.Time
	closing   bool
	idle      chan struct{} // closed when the turn is free while closing

	// gone is closed once the actor has left the table.
	gone chan struct{}
}

type waiter struct {
	rid string
	ch  chan error // buffered: the granter never blocks
}

func newActor(typ, id string, now time.Time) *actor {
	return &actor{typ: typ, id: id, lastUsed: now, gone: make(chan struct{})}
}

// lock takes the actor's turn, waiting in line bounded by ctx. A call
// whose non-empty reentrancy id matches the holder's enters at once, up to
// maxDepth nested calls.
func (a *actor) lock(ctx context.Context, rid string, maxDepth int) error {
	w, err := a.enter(rid, maxDepth)
	if err != nil || w == nil {
		return err
	}
	return a.await(ctx, w)
}

// enter takes the turn when it is free (or re-entered) and returns a nil
// waiter; otherwise it joins the line and returns the waiter to await.
func (a *actor) enter(rid string, maxDepth int) (*waiter, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return nil, errGone
	}
	if !a.busy {
		a.busy, a.holder, a.depth = true, rid, 1
		return nil, nil
	}
	if rid != "" && rid == a.holder {
		if a.depth >= maxDepth {
			return nil, ErrStackDepth
		}
		a.depth++
		return nil, nil
	}
	w := &waiter{rid: rid, ch: make(chan error, 1)}
	a.waiters = append(a.waiters, w)
	return w, nil
}

// await waits in line for the turn, bounded by ctx.
func (a *actor) await(ctx context.Context, w *waiter) error {
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
	}
	a.mu.Lock()
	for i, x := range a.waiters {
		if x == w {
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			a.mu.Unlock()
			return ctx.Err()
		}
	}
	a.mu.Unlock()
	// Granted (or rejected) just as ctx ended: hand a granted turn on.
	if err := <-w.ch; err == nil {
		a.unlock(false)
	}
	return ctx.Err()
}

// unlock ends one call's turn. touch records the call as use of the actor
// (timers do not keep an actor alive; calls and reminders do).
func (a *actor) unlock(touch bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if touch {
		a.lastUsed = time.Now()
	}
	a.depth--
	if a.depth > 0 {
		return
	}
	if len(a.waiters) > 0 && !a.closing {
		a.grantNext()
		return
	}
	a.busy, a.holder = false, ""
	if a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
}

// grantNext hands the turn to the first waiter, together with every other
// waiter of the same reentrancy chain. Called with mu held.
func (a *actor) grantNext() {
	w := a.waiters[0]
	a.waiters = a.waiters[1:]
	a.holder, a.depth = w.rid, 1
	w.ch <- nil
	if w.rid == "" {
		return
	}
	rest := a.waiters[:0]
	for _, x := range a.waiters {
		if x.rid == w.rid {
			a.depth++
			x.ch <- nil
			continue
		}
		rest = append(rest, x)
	}
	clear(a.waiters[len(rest):])
	a.waiters = rest
}

// markActivated records that the app has seen this actor; it reports
// whether this call is the activation.
func (a *actor) markActivated() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := !a.activated
	a.activated = true
	return first
}

// beginClose stops the actor from taking calls: waiters are sent back to
// route again, and the returned channel is closed once no call holds the
// turn. It reports false if another deactivation got there first.
func (a *actor) beginClose() (<-chan struct{}, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return nil, false
	}
	a.closing = true
	for _, w := range a.waiters {
		w.ch <- errGone
	}
	a.waiters = nil
	idle := make(chan struct{})
	if a.busy {
		a.idle = idle
	} else {
		close(idle)
	}
	return idle, true
}

// closeIfIdle starts deactivation only when no call holds or waits for the
// turn and the actor was last used before cutoff.
func (a *actor) closeIfIdle(cutoff time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing || a.busy || len(a.waiters) > 0 || a.lastUsed.After(cutoff) {
		return false
	}
	a.closing = true
	return true
}

func (a *actor) wasActivated() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.activated
}
