package actors

import "context"

// TimerRequest registers an actor timer.
type TimerRequest struct {
	ActorType, ActorID, Name string
	DueTime, Period, TTL     string
	Callback                 string
	// Data is raw JSON, nil when none.
	Data []byte
}

// ReminderRequest registers an actor reminder.
type ReminderRequest struct {
	ActorType, ActorID, Name string
	DueTime, Period, TTL     string
	// Data is raw JSON, nil when none.
	Data []byte
	// Overwrite nil means true, as in Dapr.
	Overwrite *bool
}

// Reminder is a stored reminder as the API returns it.
type Reminder struct {
	ActorType, ActorID, Name string
	DueTime, Period, TTL     string
	Data                     []byte
}

// Timers keeps the timers of active actors (internal/actors/timers behind
// an adapter the sidecar builds).
type Timers interface {
	Create(req TimerRequest) error
	Delete(actorType, actorID, name string)
	// DeleteActor drops every timer of a deactivated actor.
	DeleteActor(actorType, actorID string)
}

// Reminders keeps durable reminders (internal/actors/reminders behind an
// adapter). Get and Delete fail with ErrReminderNotFound, Create with
// ErrReminderExists when overwrite is false.
type Reminders interface {
	Create(ctx context.Context, req ReminderRequest) error
	Get(ctx context.Context, actorType, actorID, name string) (Reminder, error)
	Delete(ctx context.Context, actorType, actorID, name string) error
	// List returns the reminders of a type, or of one actor when actorID is
	// set.
	List(ctx context.Context, actorType, actorID string) ([]Reminder, error)
	DeleteByType(ctx context.Context, actorType, actorID string) error
	// Rebalance re-reads which reminders this host owns after the
	// placement table changed.
	Rebalance(ctx context.Context)
}
