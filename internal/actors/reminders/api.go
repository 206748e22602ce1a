package reminders

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/outrigger/outrigger/internal/actors/schedule"
	"github.com/outrigger/outrigger/internal/state"
)

// Create stores a reminder, replacing one of the same name unless
// req.Overwrite is false (then ErrExists). Schedule errors carry Dapr's
// wording. When this sidecar owns the actor the reminder is scheduled at
// once; otherwise its owner picks it up within SyncInterval.
func (s *Service) Create(ctx context.Context, req CreateRequest) error {
	key := req.ActorType + "||" + req.ActorID + "||" + req.Name
	sched, err := schedule.Parse(req.DueTime, req.Period, req.TTL, s.cfg.Now())
	if err != nil {
		return schedule.Describe(err, "reminder", key)
	}
	rem := storedReminder{
		ActorID: req.ActorID,
		Name:    req.Name,
		Gen:     newGen(),
		DueTime: req.DueTime,
		Period:  req.Period,
		TTL:     req.TTL,
		Start:   sched.Start,
		Expires: sched.Expires,
	}
	rem.setData(req.Data)
	overwrite := req.Overwrite == nil || *req.Overwrite

	p := partitionOf(req.ActorID)
	ps := s.part(req.ActorType, p)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	_, err = s.modifyPartition(ctx, req.ActorType, p, true, func(part *storedPartition) (bool, error) {
		i := findReminder(part, req.ActorID, req.Name)
		switch {
		case i < 0:
			part.Reminders = append(part.Reminders, rem)
		case !overwrite:
			return false, ErrExists
		default:
			part.Reminders[i] = rem
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	ps.etag = staleETag
	ps.writes++
	s.mu.Unlock()
	s.adopt(ctx, ps, []storedReminder{rem})
	return nil
}

// Get returns a stored reminder, ErrNotFound when there is none.
func (s *Service) Get(ctx context.Context, actorType, actorID, name string) (Reminder, error) {
	rd, err := s.readPartition(ctx, actorType, partitionOf(actorID))
	if err != nil {
		return Reminder{}, err
	}
	i := findReminder(&rd.part, actorID, name)
	if i < 0 {
		return Reminder{}, ErrNotFound
	}
	return rd.part.Reminders[i].toReminder(actorType), nil
}

// Delete removes a reminder; deleting a missing one is not an error.
func (s *Service) Delete(ctx context.Context, actorType, actorID, name string) error {
	return s.deleteWhere(ctx, actorType, partitionOf(actorID), func(r storedReminder) bool {
		return r.ActorID == actorID && r.Name == name
	})
}

// DeleteByType removes every reminder of an actor type, or of one actor
// when actorID is not empty.
func (s *Service) DeleteByType(ctx context.Context, actorType, actorID string) error {
	if actorID != "" {
		return s.deleteWhere(ctx, actorType, partitionOf(actorID), func(r storedReminder) bool {
			return r.ActorID == actorID
		})
	}
	for p := range numPartitions {
		if err := s.deleteWhere(ctx, actorType, p, func(storedReminder) bool { return true }); err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere removes the matching reminders of one partition from the
// store and from this sidecar's schedule.
func (s *Service) deleteWhere(ctx context.Context, actorType string, p int, match func(storedReminder) bool) error {
	ps := s.part(actorType, p)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	_, err := s.modifyPartition(ctx, actorType, p, true, func(part *storedPartition) (bool, error) {
		n := len(part.Reminders)
		part.Reminders = slices.DeleteFunc(part.Reminders, match)
		return len(part.Reminders) != n, nil
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps.etag = staleETag
	ps.writes++
	for _, e := range ps.entries {
		if match(e.rem) {
			s.dropLocked(ps, e)
		}
	}
	return nil
}

// List returns the reminders of one actor, or of the whole type when
// actorID is empty, ordered by actor ID and name.
func (s *Service) List(ctx context.Context, actorType, actorID string) ([]Reminder, error) {
	var reads []partitionRead
	if actorID != "" {
		rd, err := s.readPartition(ctx, actorType, partitionOf(actorID))
		if err != nil {
			return nil, err
		}
		reads = append(reads, rd)
	} else {
		var err error
		if reads, err = s.readAllPartitions(ctx, actorType); err != nil {
			return nil, err
		}
	}
	var out []Reminder
	for _, rd := range reads {
		for _, r := range rd.part.Reminders {
			if actorID == "" || r.ActorID == actorID {
				out = append(out, r.toReminder(actorType))
			}
		}
	}
	slices.SortFunc(out, func(a, b Reminder) int {
		if c := strings.Compare(a.ActorID, b.ActorID); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// readAllPartitions reads every partition of a type, indexed by partition
// number, in one round trip when the store can bulk-read.
func (s *Service) readAllPartitions(ctx context.Context, actorType string) ([]partitionRead, error) {
	out := make([]partitionRead, numPartitions)
	bg, ok := s.cfg.Store.(state.BulkGetter)
	if !ok {
		for p := range numPartitions {
			rd, err := s.readPartition(ctx, actorType, p)
			if err != nil {
				return nil, err
			}
			out[p] = rd
		}
		return out, nil
	}
	reqs := make([]state.GetRequest, numPartitions)
	index := make(map[string]int, numPartitions)
	for p := range numPartitions {
		reqs[p] = state.GetRequest{Key: partitionKey(actorType, p)}
		index[reqs[p].Key] = p
	}
	// Not cancelled with ctx: cancelling the sqlite store's bulk read
	// mid-query was seen to leave its read connection on a stale snapshot
	// (later reads missed committed writes). The store's own operation
	// timeout still bounds it.
	items, err := bg.BulkGet(context.WithoutCancel(ctx), reqs)
	if err != nil {
		return nil, fmt.Errorf("read reminders partitions of %s: %w", actorType, err)
	}
	for _, it := range items {
		p, ok := index[it.Key]
		if !ok {
			continue
		}
		rd, err := decodePartition(actorType, it.GetResponse)
		if it.Error != "" || err != nil {
			// Fall back to a plain read for a key the bulk read failed on.
			rd, err = s.readPartition(ctx, actorType, p)
		}
		if err != nil {
			return nil, err
		}
		out[p] = rd
	}
	return out, nil
}
