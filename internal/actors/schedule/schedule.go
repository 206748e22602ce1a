package schedule

import (
	"errors"
	"fmt"
	"time"
)

// First returns the first due time.
func (s Schedule) First() time.Time { return s.Start }

// Periodic reports whether the schedule fires more than once.
func (s Schedule) Periodic() bool { return !s.period.zero() && s.Repeats != 1 }

// Active reports whether a firing due at t is still allowed by the ttl.
func (s Schedule) Active(t time.Time) bool {
	return s.Expires.IsZero() || t.Before(s.Expires)
}

// Next returns the due time following a firing that was due at last, when
// fired firings (including that one) have happened, with now the current
// time. Due times that have already passed are skipped: a reminder that was
// late (a slow callback, a sidecar that was down) fires once for the missed
// ones and then keeps to its grid. ok is false when the schedule is
// exhausted: no period, repetitions spent, or the next time at or past the
// ttl.
func (s Schedule) Next(last time.Time, fired int, now time.Time) (next time.Time, ok bool) {
	if !s.Periodic() || (s.Repeats >= 0 && fired >= s.Repeats) {
		return time.Time{}, false
	}
	next = s.period.after(last)
	if !next.After(now) {
		next = s.skipTo(next, now)
	}
	if !s.Active(next) {
		return time.Time{}, false
	}
	return next, true
}

// Exhausted reports whether nothing is left to fire after fired firings,
// the last due at last.
func (s Schedule) Exhausted(last time.Time, fired int, now time.Time) bool {
	_, ok := s.Next(last, fired, now)
	return !ok
}

// skipTo returns the first due time on the grid next, next+period, ... that
// is after now.
func (s Schedule) skipTo(next, now time.Time) time.Time {
	if !s.period.calendar() {
		steps := now.Sub(next)/s.period.d + 1
		return next.Add(steps * s.period.d)
	}
	// Calendar periods are at least a day long, so this loops once per
	// missed day at most.
	for !next.After(now) {
		next = s.period.after(next)
	}
	return next
}

// Field names the input a parse error is about, as Dapr words it.
type Field string

const (
	FieldDueTime Field = "due time"
	FieldPeriod  Field = "period"
	FieldTTL     Field = "TTL"
)

// Error is a schedule that cannot be used.
type Error struct {
	Field Field
	Err   error
	// Expired is set when the ttl ends before the first due time or before
	// now; Start and TTLValue then describe it.
	Expired  bool
	Start    time.Time
	TTLValue string
}

func (e *Error) Error() string { return e.Describe("schedule", "") }

func (e *Error) Unwrap() error { return e.Err }

// Describe words the error as Dapr does for a timer or reminder (kind) with
// the given key ("<type>||<id>||<name>").
func (e *Error) Describe(kind, key string) string {
	switch {
	case e.Expired:
		return fmt.Sprintf("%s %s has already expired: dueTime: %s TTL: %s", kind, key, e.Start, e.TTLValue)
	case e.Field == FieldPeriod:
		return fmt.Sprintf("invalid %s period: %v", kind, e.Err)
	default:
		return fmt.Sprintf("error parsing %s %s: %v", kind, e.Field, e.Err)
	}
}

// Describe rewords err, when it is an *Error, as Dapr's message for a timer
// or reminder; other errors are returned unchanged.
func Describe(err error, kind, key string) error {
	var se *Error
	if errors.As(err, &se) {
		return errors.New(se.Describe(kind, key))
	}
	return err
}
