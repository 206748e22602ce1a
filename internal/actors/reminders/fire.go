package reminders

import (
	"context"
	"time"

	"github.com/outrigger/outrigger/internal/actors/schedule"
)

// outcome is the result of one firing.
type outcome struct {
	e         *entry
	due       time.Time
	lookupErr bool // IsLocal failed: try again later, not counted
	moved     bool // another sidecar owns the actor now
	cancel    bool
	err       error
}

// fireLoop sleeps until the earliest due reminder, then hands due ones one
// at a time to a worker of a schedule.Dispatcher (at most MaxInFlight at
// once), which fires it, records the outcome itself and goes on with the
// next due reminder if there is one. While every worker is busy, due
// reminders stay queued and the first worker done takes the earliest. It
// returns when ctx ends, after the firings in progress have returned and
// been recorded.
func (s *Service) fireLoop(ctx context.Context) {
	d := schedule.NewDispatcher(s.cfg.MaxInFlight, 0, func(f dueEntry) (dueEntry, bool) { return s.fire(ctx, f) })
	d.Run(ctx, s.next, s.putBack, s.wake)
}

type dueEntry struct {
	e   *entry
	due time.Time
}

// next takes the earliest reminder if it is due (marking it running, so it
// is not queued again until its firing returns); otherwise it returns how
// long to sleep until it is.
func (s *Service) next() (dueEntry, time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if f, ok := s.popDueLocked(now); ok {
		return f, 0, true
	}
	wait := time.Hour
	if it := s.queue.Peek(); it != nil {
		wait = max(it.Due.Sub(now), 0)
	}
	return dueEntry{}, wait, false
}

// putBack queues again a reminder taken but not handed to a worker (every
// worker was busy), still due at the same time so it stays ahead of those
// due later.
func (s *Service) putBack(f dueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.e.running = false
	s.firing--
	if !f.e.removed && !f.e.done {
		s.requeueLocked(f.e, f.due)
	}
}

// popDueLocked takes the earliest reminder if it is due, marking it
// running.
func (s *Service) popDueLocked(now time.Time) (dueEntry, bool) {
	it := s.queue.PopDue(now)
	if it == nil {
		return dueEntry{}, false
	}
	it.Value.running = true
	s.firing++
	return dueEntry{e: it.Value, due: it.Due}, true
}

// fire delivers one due time, records its outcome and returns the next
// due reminder, if any, for the same worker.
func (s *Service) fire(ctx context.Context, f dueEntry) (dueEntry, bool) {
	r := s.fireOne(ctx, f.e, f.due)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked(ctx, r)
	if ctx.Err() != nil {
		return dueEntry{}, false
	}
	return s.popDueLocked(s.cfg.Now())
}

// fireOne delivers one due time of a reminder, if this sidecar still owns
// the actor. e.rem, e.actorType and e.sched do not change while e is
// running, so they are read here without the lock.
func (s *Service) fireOne(ctx context.Context, e *entry, due time.Time) outcome {
	local, err := s.cfg.IsLocal(ctx, e.actorType, e.rem.ActorID)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Log.Warn("actor reminder: cannot look up the actor's owner; retrying", "reminder", e.actorType+"||"+e.rem.key(), "error", err)
		}
		return outcome{e: e, due: due, lookupErr: true}
	}
	if !local {
		return outcome{e: e, due: due, moved: true}
	}
	r := e.rem.toReminder(e.actorType)
	r.Due = due
	cancel, err := s.cfg.Fire(ctx, r)
	return outcome{e: e, due: due, cancel: cancel, err: err}
}

// finishLocked records a firing and schedules what follows it.
func (s *Service) finishLocked(ctx context.Context, r outcome) {
	e := r.e
	e.running = false
	s.firing--
	if e.removed || e.done {
		return
	}
	key := e.actorType + "||" + e.rem.key()
	switch {
	case r.moved:
		// Placement moved the actor; its new owner fires it from the store.
		s.moveAwayLocked(e.part, e)
		return
	case r.lookupErr:
		s.retryLocked(e, r.due)
		return
	case r.err != nil && !r.cancel:
		if ctx.Err() != nil {
			// Shutting down: the due time stays unrecorded and fires again.
			return
		}
		e.attempts++
		if e.attempts <= s.cfg.MaxRetries {
			s.cfg.Log.Warn("actor reminder firing failed; retrying", "reminder", key, "attempt", e.attempts, "error", r.err)
			s.requeueLocked(e, s.cfg.Now().Add(s.cfg.RetryInterval))
			return
		}
		s.cfg.Log.Error("actor reminder firing failed; moving on to its next due time", "reminder", key, "attempts", e.attempts, "error", r.err)
	}
	e.attempts = 0
	e.rem.Last = r.due
	e.rem.Fired++
	e.dirty = true
	e.part.dirty = true
	next, ok := e.sched.Next(r.due, e.rem.Fired, s.cfg.Now())
	if r.cancel || !ok {
		e.done = true
		return
	}
	s.requeueLocked(e, next)
}

// retryLocked puts e back for the same due time after RetryInterval,
// without counting an attempt (the app was not called).
func (s *Service) retryLocked(e *entry, due time.Time) {
	next := s.cfg.Now().Add(s.cfg.RetryInterval)
	if due.After(next) {
		next = due
	}
	s.requeueLocked(e, next)
}

// requeueLocked queues e at due, waking the loop when e is now the
// earliest (it may be sleeping past due).
func (s *Service) requeueLocked(e *entry, due time.Time) {
	e.item.Due = due
	s.queue.Push(e.item)
	if s.queue.Peek() == e.item {
		s.signal()
	}
}

// dropLocked forgets e at once: it was deleted or replaced in the store.
func (s *Service) dropLocked(ps *partState, e *entry) {
	e.removed = true
	s.queue.Remove(e.item)
	if ps.entries[e.rem.key()] == e {
		delete(ps.entries, e.rem.key())
	}
}

// moveAwayLocked stops firing e because another sidecar owns it now; it is
// forgotten once its progress is written back.
func (s *Service) moveAwayLocked(ps *partState, e *entry) {
	e.removed = true
	s.queue.Remove(e.item)
	if !e.dirty && ps.entries[e.rem.key()] == e {
		delete(ps.entries, e.rem.key())
	}
}
