package reminders

import (
	"context"
	"slices"
	"time"

	"github.com/outrigger/outrigger/internal/actors/schedule"
)

// Rebalance tells the service the placement table changed. It writes back
// the progress of recent firings at once (so a reminder's new owner starts
// from it) and has the service re-evaluate, in its own goroutine, which
// reminders this sidecar owns. It does not call IsLocal itself, so it is
// safe to call while placement holds the table locked.
func (s *Service) Rebalance(ctx context.Context) {
	s.waitFirings(ctx)
	s.flush(ctx)
	s.mu.Lock()
	for _, ts := range s.types {
		ts.full = true
	}
	s.mu.Unlock()
	select {
	case s.resync <- struct{}{}:
	default:
	}
}

// waitFirings waits, bounded by ctx, for the firings in progress when it
// was called: one of them may be for an actor that just moved away, and its
// new owner must not fire it at the same time. Firings started later are
// not waited for (they check ownership first).
func (s *Service) waitFirings(ctx context.Context) {
	s.mu.Lock()
	var busy []*entry
	for _, p := range s.parts {
		for _, e := range p.entries {
			if e.running {
				busy = append(busy, e)
			}
		}
	}
	s.mu.Unlock()
	if len(busy) == 0 {
		return
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		busy = slices.DeleteFunc(busy, func(e *entry) bool { return !e.running })
		s.mu.Unlock()
		if len(busy) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Len returns how many reminders this sidecar has scheduled, counting
// those being fired.
func (s *Service) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.Len() + s.firing
}

// syncLoop loads hosted types, polls for changes made through other
// sidecars, re-evaluates ownership after Rebalance, and writes back
// progress every FlushInterval.
func (s *Service) syncLoop(ctx context.Context) {
	s.syncOnce(ctx)
	syncTick := time.NewTicker(s.cfg.SyncInterval)
	defer syncTick.Stop()
	flushTick := time.NewTicker(s.cfg.FlushInterval)
	defer flushTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-flushTick.C:
			s.flush(ctx)
		case <-syncTick.C:
			s.syncOnce(ctx)
		case <-s.resync:
			s.syncOnce(ctx)
		}
	}
}

// syncOnce follows HostedTypes and, for each hosted type whose version key
// changed (or that needs a full pass after Rebalance), reconciles every
// partition with the store.
func (s *Service) syncOnce(ctx context.Context) {
	hosted := s.cfg.HostedTypes()
	s.mu.Lock()
	var gone []string
	for t := range s.types {
		if !slices.Contains(hosted, t) {
			gone = append(gone, t)
		}
	}
	for _, t := range hosted {
		if s.types[t] == nil {
			s.types[t] = &typeState{full: true}
		}
	}
	s.mu.Unlock()

	for _, t := range gone {
		s.dropType(ctx, t)
	}
	for _, t := range hosted {
		if ctx.Err() != nil {
			return
		}
		if err := s.syncType(ctx, t); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("actor reminders: sync failed; retrying later", "actorType", t, "error", err)
		}
	}
}

func (s *Service) syncType(ctx context.Context, actorType string) error {
	version, err := s.readVersion(ctx, actorType)
	if err != nil {
		return err
	}
	s.mu.Lock()
	ts := s.types[actorType]
	if ts == nil {
		s.mu.Unlock()
		return nil
	}
	full := ts.full
	ts.full = false
	changed := version != ts.version
	s.mu.Unlock()
	if !full && !changed {
		return nil
	}
	// One bulk read finds the partitions that changed since they were last
	// reconciled and serves to reconcile them, unless this sidecar wrote
	// the partition meanwhile (then it is read again under its lock).
	writes := s.partWrites(actorType)
	reads, err := s.readAllPartitions(ctx, actorType)
	if err != nil {
		s.mu.Lock()
		ts.full = ts.full || full
		s.mu.Unlock()
		return err
	}
	for p := range numPartitions {
		if !s.needsReconcile(actorType, p, reads[p], full) {
			continue
		}
		if err := s.reconcile(ctx, actorType, p, full, &reads[p], writes[p]); err != nil {
			s.mu.Lock()
			ts.full = ts.full || full
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Lock()
	ts.version = version
	s.mu.Unlock()
	return nil
}

// partWrites returns how many times this sidecar wrote each partition of a
// type.
func (s *Service) partWrites(actorType string) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint64, numPartitions)
	for k, ps := range s.parts {
		if k.actorType == actorType {
			out[k.p] = ps.writes
		}
	}
	return out
}

// needsReconcile reports whether a partition read in bulk differs from what
// this sidecar last reconciled (or, for a full pass, holds any reminder).
func (s *Service) needsReconcile(actorType string, p int, rd partitionRead, full bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.parts[partKey{actorType, p}]
	if ps == nil || len(ps.entries) == 0 {
		if !rd.found {
			return false
		}
		if ps == nil {
			return true
		}
	}
	return full || ps.etag != rd.etag
}

// dropType stops firing the reminders of a type this sidecar no longer
// hosts, after writing back their progress.
func (s *Service) dropType(ctx context.Context, actorType string) {
	s.flush(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.types, actorType)
	for k, ps := range s.parts {
		if k.actorType != actorType {
			continue
		}
		for _, e := range ps.entries {
			s.moveAwayLocked(ps, e)
		}
	}
}

// reconcile brings this sidecar's schedule for one partition in line with
// the store: reminders deleted or replaced elsewhere are dropped, new ones
// this sidecar owns are scheduled. full re-checks the ownership of every
// reminder (after a placement change); otherwise an unchanged partition is
// skipped and only reminders not yet scheduled are checked.
//
// read, when not nil, is the partition as read when this sidecar had
// written it writes times; it is used unless more writes happened since.
func (s *Service) reconcile(ctx context.Context, actorType string, p int, full bool, read *partitionRead, writes uint64) error {
	ps := s.part(actorType, p)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s.mu.Lock()
	fresh := read != nil && ps.writes == writes
	s.mu.Unlock()
	var rd partitionRead
	if fresh {
		rd = *read
	} else {
		var err error
		if rd, err = s.readPartition(ctx, actorType, p); err != nil {
			return err
		}
	}

	s.mu.Lock()
	if !full && rd.etag == ps.etag {
		s.mu.Unlock()
		return nil
	}
	ps.etag = rd.etag
	stored := make(map[string]string, len(rd.part.Reminders)) // key -> gen
	for _, r := range rd.part.Reminders {
		stored[r.key()] = r.Gen
	}
	for k, e := range ps.entries {
		if gen, ok := stored[k]; !ok || gen != e.rem.Gen {
			s.dropLocked(ps, e)
		}
	}
	var check []storedReminder
	for _, r := range rd.part.Reminders {
		if e := ps.entries[r.key()]; full || e == nil || e.removed {
			check = append(check, r)
		}
	}
	s.mu.Unlock()

	s.adopt(ctx, ps, check)
	return nil
}

// adopt schedules the given stored reminders of ps that this sidecar owns
// and stops those it no longer owns. The caller holds ps.mu.
func (s *Service) adopt(ctx context.Context, ps *partState, rems []storedReminder) {
	s.mu.Lock()
	tracked := s.types[ps.key.actorType] != nil
	s.mu.Unlock()
	if !tracked {
		return
	}
	// Ask placement without holding the lock (it may wait for a table),
	// then apply every answer under one lock.
	owned := make([]bool, len(rems))
	known := make([]bool, len(rems))
	for i, r := range rems {
		local, err := s.cfg.IsLocal(ctx, ps.key.actorType, r.ActorID)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Log.Warn("actor reminders: cannot look up the actor's owner", "actorType", ps.key.actorType, "actorID", r.ActorID, "error", err)
			}
			continue
		}
		owned[i], known[i] = local, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range rems {
		switch {
		case !known[i]:
			ps.etag = "" // look again on the next pass
		case owned[i]:
			s.installLocked(ps, r)
		default:
			if e := ps.entries[r.key()]; e != nil && !e.removed {
				s.moveAwayLocked(ps, e)
			}
		}
	}
}

// installLocked schedules a stored reminder this sidecar owns.
func (s *Service) installLocked(ps *partState, r storedReminder) {
	if e := ps.entries[r.key()]; e != nil {
		if e.rem.Gen == r.Gen && !e.running && !e.done {
			// Already known (scheduled, or moved away with progress not yet
			// written back): keep it, taking newer progress recorded by
			// another owner.
			revive := e.removed
			e.removed = false
			if r.Fired > e.rem.Fired {
				e.rem.Last, e.rem.Fired = r.Last, r.Fired
				revive = true
			}
			if revive {
				s.scheduleLocked(ps, e)
			}
			return
		}
		if e.rem.Gen == r.Gen && !e.removed {
			return // firing or finished: it goes on from there
		}
		s.dropLocked(ps, e)
	}
	sched, err := schedule.Restore(r.DueTime, r.Period, r.TTL, r.Start, r.Expires)
	if err != nil {
		s.cfg.Log.Error("actor reminders: stored reminder has a bad schedule; skipping it", "reminder", ps.key.actorType+"||"+r.key(), "error", err)
		return
	}
	e := &entry{actorType: ps.key.actorType, rem: r, sched: sched, part: ps}
	e.item = schedule.NewItem(e)
	ps.entries[r.key()] = e
	s.scheduleLocked(ps, e)
}

// scheduleLocked queues e at the due time after its recorded progress. A
// due time missed while nobody fired the reminder fires at once, once.
func (s *Service) scheduleLocked(ps *partState, e *entry) {
	due, ok := e.sched.Start, e.sched.Active(e.sched.Start)
	if e.rem.Fired > 0 {
		due, ok = e.sched.Next(e.rem.Last, e.rem.Fired, e.rem.Last)
	}
	if !ok {
		e.done = true
		ps.dirty = true
		s.queue.Remove(e.item)
		return
	}
	s.requeueLocked(e, due)
}

// progress is a snapshot of an entry to write back.
type progress struct {
	e     *entry
	key   string
	gen   string
	last  time.Time
	fired int
	done  bool
}

// flush writes back the progress of every partition with unrecorded
// firings and removes finished reminders from the store.
func (s *Service) flush(ctx context.Context) {
	s.mu.Lock()
	var dirty []*partState
	for _, ps := range s.parts {
		if ps.dirty {
			ps.dirty = false
			dirty = append(dirty, ps)
		}
	}
	s.mu.Unlock()
	for _, ps := range dirty {
		if err := s.flushPart(ctx, ps); err != nil {
			s.mu.Lock()
			ps.dirty = true
			s.mu.Unlock()
			if ctx.Err() == nil {
				s.cfg.Log.Warn("actor reminders: cannot record firings; retrying", "actorType", ps.key.actorType, "error", err)
			}
		}
	}
}

func (s *Service) flushPart(ctx context.Context, ps *partState) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s.mu.Lock()
	var snaps []progress
	for k, e := range ps.entries {
		if e.dirty || e.done {
			snaps = append(snaps, progress{e: e, key: k, gen: e.rem.Gen, last: e.rem.Last, fired: e.rem.Fired, done: e.done})
		}
	}
	s.mu.Unlock()
	if len(snaps) == 0 {
		return nil
	}

	_, err := s.modifyPartition(ctx, ps.key.actorType, ps.key.p, false, func(part *storedPartition) (bool, error) {
		changed := false
		for _, sn := range snaps {
			i := slices.IndexFunc(part.Reminders, func(r storedReminder) bool { return r.key() == sn.key })
			if i < 0 || part.Reminders[i].Gen != sn.gen {
				continue // deleted or replaced meanwhile
			}
			if sn.done {
				part.Reminders = slices.Delete(part.Reminders, i, i+1)
				changed = true
			} else if sn.fired > part.Reminders[i].Fired {
				part.Reminders[i].Last, part.Reminders[i].Fired = sn.last, sn.fired
				changed = true
			}
		}
		return changed, nil
	})
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ps.etag = staleETag
	ps.writes++
	for _, sn := range snaps {
		e := sn.e
		if e.rem.Fired == sn.fired && e.done == sn.done {
			e.dirty = false
		}
		if e.dirty {
			ps.dirty = true
			continue
		}
		if (e.done || e.removed) && ps.entries[sn.key] == e {
			delete(ps.entries, sn.key)
		}
	}
	return nil
}
