// Package schedule parses the dueTime, period and ttl of actor timers and
// reminders in Dapr's formats and steps through the resulting firing times.
// It also holds what the timer and the reminder schedulers share: Queue,
// the min-heap of due times, and Dispatcher, the bounded pool of workers
// that fire them.
//
// Formats, as Dapr accepts them:
//   - dueTime: Go duration ("1m30s"), ISO 8601 duration ("PT1M30S") or an
//     RFC3339 time; durations count from the registration time. Empty means
//     now. A negative duration or a past time means "fire at once".
//   - period: Go duration or ISO 8601 duration, optionally with a repetition
//     count ("R5/PT10S" fires five times in all). Empty, zero or a count with
//     no duration means fire once.
//   - ttl: like dueTime, but a duration counts from the first due time. No
//     firing happens at or after the expiry.
//
// Deviations: a negative period is rejected (Dapr would step backwards in
// time and fire without end).
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Schedule is a parsed timer or reminder schedule. The zero value is not
// valid; build one with Parse or Restore.
type Schedule struct {
	// DueTime, Period and TTL are the strings as registered, echoed back to
	// the app and to GET.
	DueTime string
	Period  string
	TTL     string

	// Start is the first due time.
	Start time.Time
	// Expires is when the schedule ends (nothing fires at or after it);
	// zero when there is no ttl.
	Expires time.Time
	// Repeats is the total number of firings allowed, -1 for no limit.
	Repeats int

	period interval
}

// interval is a period: calendar parts (ISO 8601 years, months, weeks and
// days, applied with time.AddDate) plus a fixed duration.
type interval struct {
	years, months, days int
	d                   time.Duration
}

func (iv interval) zero() bool {
	return iv.years == 0 && iv.months == 0 && iv.days == 0 && iv.d == 0
}

func (iv interval) calendar() bool {
	return iv.years != 0 || iv.months != 0 || iv.days != 0
}

func (iv interval) after(t time.Time) time.Time {
	return t.AddDate(iv.years, iv.months, iv.days).Add(iv.d)
}

// Parse parses a schedule registered at now. Any of the three may be empty.
// Errors are *Error; Describe turns them into Dapr's messages.
func Parse(dueTime, period, ttl string, now time.Time) (Schedule, error) {
	s := Schedule{DueTime: dueTime, Period: period, TTL: ttl, Start: now, Repeats: -1}
	if dueTime != "" {
		t, err := parseTime(dueTime, now)
		if err != nil {
			return Schedule{}, &Error{Field: FieldDueTime, Err: err}
		}
		s.Start = t
	}
	if err := s.parsePeriod(); err != nil {
		return Schedule{}, err
	}
	if ttl != "" {
		t, err := parseTime(ttl, s.Start)
		if err != nil {
			return Schedule{}, &Error{Field: FieldTTL, Err: err}
		}
		if now.After(t) || s.Start.After(t) {
			return Schedule{}, &Error{Field: FieldTTL, Expired: true, Start: s.Start, TTLValue: ttl}
		}
		s.Expires = t
	}
	return s, nil
}

// Restore rebuilds a schedule saved earlier from its registered strings and
// its resolved start and expiry (durations in dueTime and ttl are not
// re-resolved against a new "now").
func Restore(dueTime, period, ttl string, start, expires time.Time) (Schedule, error) {
	s := Schedule{DueTime: dueTime, Period: period, TTL: ttl, Start: start, Expires: expires, Repeats: -1}
	if err := s.parsePeriod(); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

func (s *Schedule) parsePeriod() error {
	if s.Period == "" {
		return nil
	}
	iv, reps, err := parseDuration(s.Period)
	if err != nil {
		return &Error{Field: FieldPeriod, Err: fmt.Errorf("parse error: %w", err)}
	}
	if reps == 0 {
		return &Error{Field: FieldPeriod, Err: errors.New("has zero repetitions")}
	}
	if iv.d < 0 {
		return &Error{Field: FieldPeriod, Err: errors.New("negative period " + s.Period)}
	}
	s.period = iv
	s.Repeats = reps
	return nil
}

// parseTime resolves an ISO 8601 duration (no repetitions), Go duration or
// RFC3339 time; durations count from base.
func parseTime(v string, base time.Time) (time.Time, error) {
	if iv, reps, err := parseISO(v); err == nil {
		if reps != -1 {
			return time.Time{}, errors.New("repetitions are not allowed")
		}
		return iv.after(base), nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return base.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("unsupported time/duration format: " + v)
}

// parseDuration parses a period: ISO 8601 (with optional repetitions) or a
// Go duration. reps is -1 when no count is given.
func parseDuration(v string) (interval, int, error) {
	if iv, reps, err := parseISO(v); err == nil {
		return iv, reps, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return interval{d: d}, -1, nil
	}
	return interval{}, 0, errors.New("unsupported duration format: " + v)
}

// parseISO parses "[R<n>/]P[nY][nM][nW][nD][T[nH][nM][nS]]" with whole
// numbers. "R<n>" alone (no duration) is a count with a zero interval.
func parseISO(v string) (interval, int, error) {
	bad := errors.New("unsupported ISO8601 duration format: " + v)
	reps := -1
	rest := v
	if len(v) > 0 && v[0] == 'R' {
		count, tail, found := cut(v[1:], '/')
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 {
			return interval{}, 0, bad
		}
		reps = n
		if !found || tail == "" {
			return interval{}, reps, nil
		}
		rest = tail
	}
	if len(rest) < 2 || rest[0] != 'P' {
		return interval{}, 0, bad
	}
	var iv interval
	inTime := false
	start := 1
	parts := 0
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if c == 'T' {
			if inTime || start != i {
				return interval{}, 0, bad
			}
			inTime = true
			start = i + 1
			continue
		}
		n, err := strconv.Atoi(rest[start:i])
		if err != nil || start == i {
			return interval{}, 0, bad
		}
		switch {
		case c == 'Y' && !inTime:
			iv.years += n
		case c == 'M' && !inTime:
			iv.months += n
		case c == 'W' && !inTime:
			iv.days += 7 * n
		case c == 'D' && !inTime:
			iv.days += n
		case c == 'H' && inTime:
			iv.d += time.Duration(n) * time.Hour
		case c == 'M' && inTime:
			iv.d += time.Duration(n) * time.Minute
		case c == 'S' && inTime:
			iv.d += time.Duration(n) * time.Second
		default:
			return interval{}, 0, bad
		}
		parts++
		start = i + 1
	}
	if start != len(rest) || parts == 0 {
		return interval{}, 0, bad
	}
	return iv, reps, nil
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
