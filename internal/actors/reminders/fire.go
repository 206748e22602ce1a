package reminders

import (
	"context"
	"sync"
	"time"
)

// outcome is the result of one firing, handed back to the scheduler.
type outcome struct {
	e         *entry
	due       time.Time
	lookupErr bool // IsLocal failed: try again later, not counted
	moved     bool // another sidecar owns the actor now
	cancel    bool
	err       error
}

// fireLoop sleeps until the earliest due reminder, then starts a firing for
// every due one (at most MaxInFlight at once). Firings report back through
// a channel drained in batches, so many short firings do not all contend
// for the lock. It returns when ctx ends, after the firings in progress
// have returned.
func (s *Service) fireLoop(ctx context.Context) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, s.cfg.MaxInFlight)
	// The loop keeps receiving while it waits for a slot, so firings
	// rarely wait to report.
	results := make(chan outcome, s.cfg.MaxInFlight)
	var finished []outcome // results taken while waiting for a slot
	defer func() { s.drain(ctx, &wg, finished, results) }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, wait := s.step(ctx, finished, results)
		finished = finished[:0]
		for _, d := range due {
			waiting := true
			for waiting {
				select {
				case slots <- struct{}{}:
					waiting = false
				case r := <-results:
					finished = append(finished, r)
				case <-ctx.Done():
					return
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				results <- s.fireOne(ctx, d.e, d.due)
			}()
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		case r := <-results:
			finished = append(finished, r)
		}
	}
}

// drain waits for the firings in progress when the loop stops, recording
// those that completed so their progress is written back.
func (s *Service) drain(ctx context.Context, wg *sync.WaitGroup, finished []outcome, results chan outcome) {
	s.mu.Lock()
	for _, r := range finished {
		s.finishLocked(ctx, r)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	for {
		select {
		case r := <-results:
			s.mu.Lock()
			s.finishLocked(ctx, r)
			s.mu.Unlock()
		case <-done:
			for { // whatever arrived last
				select {
				case r := <-results:
					s.mu.Lock()
					s.finishLocked(ctx, r)
					s.mu.Unlock()
				default:
					return
				}
			}
		}
	}
}

type dueEntry struct {
	e   *entry
	due time.Time
}

// step records finished firings, pops every due reminder (marking it
// running, so it is not queued again until its firing returns) and returns
// how long to sleep until the next one.
func (s *Service) step(ctx context.Context, finished []outcome, results chan outcome) ([]dueEntry, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range finished {
		s.finishLocked(ctx, r)
	}
	for drained := false; !drained; {
		select {
		case r := <-results:
			s.finishLocked(ctx, r)
		default:
			drained = true
		}
	}
	now := s.cfg.Now()
	var due []dueEntry
	for it := s.queue.PopDue(now); it != nil; it = s.queue.PopDue(now) {
		it.Value.running = true
		s.firing++
		due = append(due, dueEntry{e: it.Value, due: it.Due})
	}
	wait := time.Hour
	if it := s.queue.Peek(); it != nil {
		wait = max(it.Due.Sub(now), 0)
	}
	return due, wait
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

func (s *Service) requeueLocked(e *entry, due time.Time) {
	e.item.Due = due
	s.queue.Push(e.item)
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
