package actors

import "context"

// CreateTimer registers a timer for an actor.
func (r *Runtime) CreateTimer(ctx context.Context, req TimerRequest) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if r.cfg.Timers == nil {
		return ErrNoApp
	}
	return r.cfg.Timers.Create(req)
}

// DeleteTimer removes an actor's timer; a missing timer is not an error.
func (r *Runtime) DeleteTimer(ctx context.Context, actorType, actorID, name string) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if r.cfg.Timers != nil {
		r.cfg.Timers.Delete(actorType, actorID, name)
	}
	return nil
}

// reminders returns the reminder service for an operation on actorType:
// only types this app hosts may have reminders.
func (r *Runtime) reminders(actorType string) (Reminders, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if r.cfg.StateStore == nil || r.cfg.Reminders == nil {
		return nil, ErrNoStateStore
	}
	if !r.hostsType(actorType) {
		return nil, ErrNotHosted
	}
	return r.cfg.Reminders, nil
}

// CreateReminder registers (or replaces) a reminder.
func (r *Runtime) CreateReminder(ctx context.Context, req ReminderRequest) error {
	rs, err := r.reminders(req.ActorType)
	if err != nil {
		return err
	}
	return rs.Create(ctx, req)
}

// GetReminder returns a reminder; ErrReminderNotFound when missing.
func (r *Runtime) GetReminder(ctx context.Context, actorType, actorID, name string) (Reminder, error) {
	rs, err := r.reminders(actorType)
	if err != nil {
		return Reminder{}, err
	}
	return rs.Get(ctx, actorType, actorID, name)
}

// DeleteReminder removes a reminder.
func (r *Runtime) DeleteReminder(ctx context.Context, actorType, actorID, name string) error {
	rs, err := r.reminders(actorType)
	if err != nil {
		return err
	}
	return rs.Delete(ctx, actorType, actorID, name)
}

// ListReminders returns the reminders of a type, or of one actor.
func (r *Runtime) ListReminders(ctx context.Context, actorType, actorID string) ([]Reminder, error) {
	rs, err := r.reminders(actorType)
	if err != nil {
		return nil, err
	}
	return rs.List(ctx, actorType, actorID)
}

// DeleteRemindersByType removes the reminders of a type, or of one actor.
func (r *Runtime) DeleteRemindersByType(ctx context.Context, actorType, actorID string) error {
	rs, err := r.reminders(actorType)
	if err != nil {
		return err
	}
	return rs.DeleteByType(ctx, actorType, actorID)
}
