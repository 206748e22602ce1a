package schedule

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		name                   string
		dueTime, period, ttl   string
		wantStart, wantExpires time.Time
		wantRepeats            int
		wantPeriodic           bool
	}{
		{name: "all empty fires now once", wantStart: now, wantRepeats: -1},
		{name: "go duration", dueTime: "1m30s", wantStart: now.Add(90 * time.Second), wantRepeats: -1},
		{name: "sub-second go duration", dueTime: "500ms", wantStart: now.Add(500 * time.Millisecond), wantRepeats: -1},
		{name: "negative go duration is in the past", dueTime: "-5s", wantStart: now.Add(-5 * time.Second), wantRepeats: -1},
		{name: "ISO duration", dueTime: "PT1H2M3S", wantStart: now.Add(time.Hour + 2*time.Minute + 3*time.Second), wantRepeats: -1},
		{name: "ISO date parts", dueTime: "P1Y2M3D", wantStart: now.AddDate(1, 2, 3), wantRepeats: -1},
		{name: "ISO weeks", dueTime: "P2W", wantStart: now.AddDate(0, 0, 14), wantRepeats: -1},
		{name: "ISO date and time", dueTime: "P1DT1H", wantStart: now.AddDate(0, 0, 1).Add(time.Hour), wantRepeats: -1},
		{name: "RFC3339", dueTime: "2026-03-01T13:00:00Z", wantStart: now.Add(time.Hour), wantRepeats: -1},
		{name: "RFC3339 with offset", dueTime: "2026-03-01T13:00:00+01:00", wantStart: now, wantRepeats: -1},
		{name: "go period", period: "10s", wantStart: now, wantRepeats: -1, wantPeriodic: true},
		{name: "ISO period", period: "PT10S", wantStart: now, wantRepeats: -1, wantPeriodic: true},
		{name: "ISO repetitions", period: "R5/PT10S", wantStart: now, wantRepeats: 5, wantPeriodic: true},
		{name: "one repetition is not periodic", period: "R1/PT10S", wantStart: now, wantRepeats: 1},
		{name: "zero period fires once", period: "0s", wantStart: now, wantRepeats: -1},
		{name: "repetitions without duration fire once", period: "R3", wantStart: now, wantRepeats: 3},
		{name: "ttl duration from due time", dueTime: "10s", ttl: "1m", wantStart: now.Add(10 * time.Second), wantExpires: now.Add(70 * time.Second), wantRepeats: -1},
		{name: "ttl ISO", ttl: "PT1M", wantStart: now, wantExpires: now.Add(time.Minute), wantRepeats: -1},
		{name: "ttl RFC3339", ttl: "2026-03-02T12:00:00Z", wantStart: now, wantExpires: now.AddDate(0, 0, 1), wantRepeats: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.dueTime, tc.period, tc.ttl, now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !s.First().Equal(tc.wantStart) {
				t.Errorf("First() = %v, want %v", s.First(), tc.wantStart)
			}
			if !s.Expires.Equal(tc.wantExpires) {
				t.Errorf("Expires = %v, want %v", s.Expires, tc.wantExpires)
			}
			if s.Repeats != tc.wantRepeats {
				t.Errorf("Repeats = %d, want %d", s.Repeats, tc.wantRepeats)
			}
			if s.Periodic() != tc.wantPeriodic {
				t.Errorf("Periodic() = %v, want %v", s.Periodic(), tc.wantPeriodic)
			}
			if s.DueTime != tc.dueTime || s.Period != tc.period || s.TTL != tc.ttl {
				t.Errorf("registered strings = %q %q %q, want %q %q %q", s.DueTime, s.Period, s.TTL, tc.dueTime, tc.period, tc.ttl)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name                 string
		dueTime, period, ttl string
		want                 string // Describe("reminder", "T||a||r")
	}{
		{name: "bad due time", dueTime: "soon", want: "error parsing reminder due time: unsupported time/duration format: soon"},
		{name: "due time with repetitions", dueTime: "R2/PT1S", want: "error parsing reminder due time: repetitions are not allowed"},
		{name: "lowercase ISO", dueTime: "pt1s", want: "error parsing reminder due time: unsupported time/duration format: pt1s"},
		{name: "fractional ISO", dueTime: "PT1.5S", want: "unsupported time/duration format: PT1.5S"},
		{name: "ISO time part without T", dueTime: "P1H", want: "unsupported time/duration format: P1H"},
		{name: "ISO trailing digits", dueTime: "PT1S5", want: "unsupported time/duration format: PT1S5"},
		{name: "bare P", dueTime: "P", want: "unsupported time/duration format: P"},
		{name: "bad period", period: "often", want: "invalid reminder period: parse error: unsupported duration format: often"},
		{name: "zero repetitions", period: "R0/PT1S", want: "invalid reminder period: has zero repetitions"},
		{name: "bad repetition count", period: "Rx/PT1S", want: "invalid reminder period: parse error: unsupported duration format: Rx/PT1S"},
		{name: "negative period", period: "-1s", want: "invalid reminder period: negative period -1s"},
		{name: "bad ttl", ttl: "forever", want: "error parsing reminder TTL: unsupported time/duration format: forever"},
		{name: "ttl in the past", ttl: "2026-03-01T11:00:00Z", want: "reminder T||a||r has already expired: dueTime: 2026-03-01 12:00:00 +0000 UTC TTL: 2026-03-01T11:00:00Z"},
		{name: "ttl before due time", dueTime: "2026-03-01T14:00:00Z", ttl: "2026-03-01T13:00:00Z", want: "reminder T||a||r has already expired"},
		{name: "negative ttl", ttl: "-1m", want: "has already expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.dueTime, tc.period, tc.ttl, now)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			got := Describe(err, "reminder", "T||a||r").Error()
			if !strings.Contains(got, tc.want) {
				t.Errorf("error = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	at := func(d time.Duration) time.Time { return now.Add(d) }
	tests := []struct {
		name                 string
		dueTime, period, ttl string
		last                 time.Time
		fired                int
		now                  time.Time
		want                 time.Time // zero: exhausted
	}{
		{name: "one-shot is done", last: now, fired: 1, now: now},
		{name: "periodic steps", period: "10s", last: now, fired: 1, now: now, want: at(10 * time.Second)},
		{name: "missed slots are skipped", period: "10s", last: now, fired: 1, now: at(35 * time.Second), want: at(40 * time.Second)},
		{name: "now on a slot skips it", period: "10s", last: now, fired: 1, now: at(20 * time.Second), want: at(30 * time.Second)},
		{name: "repetitions left", period: "R3/PT10S", last: now, fired: 2, now: now, want: at(10 * time.Second)},
		{name: "repetitions spent", period: "R3/PT10S", last: now, fired: 3, now: now},
		{name: "ttl ends", period: "10s", ttl: "25s", last: at(20 * time.Second), fired: 3, now: at(20 * time.Second)},
		{name: "ttl end is exclusive", period: "10s", ttl: "30s", last: at(20 * time.Second), fired: 3, now: at(20 * time.Second)},
		{name: "ttl not reached", period: "10s", ttl: "31s", last: at(20 * time.Second), fired: 3, now: at(20 * time.Second), want: at(30 * time.Second)},
		{name: "calendar period", period: "P1M", last: now, fired: 1, now: now, want: now.AddDate(0, 1, 0)},
		{name: "calendar period skips", period: "P1D", last: now, fired: 1, now: now.AddDate(0, 0, 3), want: now.AddDate(0, 0, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.dueTime, tc.period, tc.ttl, now)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, ok := s.Next(tc.last, tc.fired, tc.now)
			if tc.want.IsZero() {
				if ok || !s.Exhausted(tc.last, tc.fired, tc.now) {
					t.Fatalf("Next = %v, %v; want exhausted", got, ok)
				}
				return
			}
			if !ok || !got.Equal(tc.want) {
				t.Fatalf("Next = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}

func TestRestoreKeepsResolvedTimes(t *testing.T) {
	s, err := Parse("10s", "R2/PT5S", "1m", now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(s.DueTime, s.Period, s.TTL, s.Start, s.Expires)
	if err != nil {
		t.Fatal(err)
	}
	if !r.First().Equal(s.First()) || !r.Expires.Equal(s.Expires) || r.Repeats != 2 {
		t.Fatalf("Restore = %+v, want start %v expires %v repeats 2", r, s.First(), s.Expires)
	}
	if _, err := Restore("", "nope", "", now, time.Time{}); err == nil {
		t.Fatal("Restore with a bad period succeeded")
	}
}

func TestQueueOrder(t *testing.T) {
	var q Queue[int]
	items := make([]*Item[int], 5)
	for i, off := range []int{30, 10, 50, 20, 40} {
		items[i] = NewItem(off)
		items[i].Due = now.Add(time.Duration(off) * time.Second)
		q.Push(items[i])
	}
	q.Remove(items[3]) // 20
	items[2].Due = now.Add(5 * time.Second)
	q.Push(items[2]) // 50 moves to the front
	if q.PopDue(now) != nil {
		t.Fatal("PopDue returned an item that is not due")
	}
	var got []int
	for it := q.PopDue(now.Add(time.Hour)); it != nil; it = q.PopDue(now.Add(time.Hour)) {
		if it.Queued() {
			t.Fatal("popped item still reports Queued")
		}
		got = append(got, it.Value)
	}
	want := []int{50, 10, 30, 40}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
}

// TestQueueOrderOutsideNanoRange checks due times UnixNano cannot hold
// (before 1678, after 2262) still sort before or after every other.
func TestQueueOrderOutsideNanoRange(t *testing.T) {
	tests := []struct {
		name string
		due  time.Time
		// due at now: popped, and before the item due at now
		early bool
	}{
		{name: "zero time", due: time.Time{}, early: true},
		{name: "year 1000", due: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), early: true},
		{name: "year 3000", due: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "year 9999", due: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue[string]
			for _, it := range []*Item[string]{NewItem("now"), NewItem("soon"), NewItem("far")} {
				switch it.Value {
				case "now":
					it.Due = now
				case "soon":
					it.Due = now.Add(time.Hour)
				default:
					it.Due = tt.due
				}
				q.Push(it)
			}
			var got []string
			for it := q.PopDue(now); it != nil; it = q.PopDue(now) {
				got = append(got, it.Value)
			}
			want := []string{"now"}
			if tt.early {
				want = []string{"far", "now"}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("due at now: popped %v, want %v", got, want)
			}
			if it := q.Peek(); it == nil || it.Value != "soon" {
				t.Fatalf("next after the due ones = %v, want soon", it)
			}
		})
	}
}
