package e2e

import (
	"testing"
	"time"
)

// TestActCheckersFindOverlaps checks the checkers the actor tests rely on:
// given hand-made event logs, they flag exactly the double activations and
// overlapping turns.
func TestActCheckersFindOverlaps(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	call := func(host string, from, to int) actEvent {
		return actEvent{host: host, id: "x", kind: "call", start: at(from), end: at(to)}
	}
	deact := func(host string, ms int) actEvent {
		return actEvent{host: host, id: "x", kind: "deactivate", start: at(ms), end: at(ms)}
	}
	tests := []struct {
		name        string
		evs         []actEvent
		cuts        map[string][]time.Time
		double      bool // active on two hosts at once
		overlapping bool // two callbacks overlapped
	}{
		{name: "moved after deactivation", evs: []actEvent{call("a", 0, 10), deact("a", 20), call("b", 30, 40)}},
		{name: "second host before deactivation", evs: []actEvent{call("a", 0, 10), call("b", 15, 18), deact("a", 20)}, double: true},
		{name: "never deactivated", evs: []actEvent{call("a", 0, 10), call("b", 30, 40)}, double: true},
		{name: "host died", evs: []actEvent{call("a", 0, 10), call("b", 30, 40)}, cuts: map[string][]time.Time{"a": {at(20)}}},
		{name: "served after its death", evs: []actEvent{call("a", 0, 10), call("b", 30, 40), call("a", 35, 36)},
			cuts: map[string][]time.Time{"a": {at(20)}}, double: true, overlapping: true},
		{name: "in-flight call cut at death", evs: []actEvent{call("a", 0, 100), call("b", 30, 40)}, cuts: map[string][]time.Time{"a": {at(20)}}},
		{name: "overlapping turns on one host", evs: []actEvent{call("a", 0, 10), call("a", 5, 12)}, overlapping: true},
		{name: "deactivation during a call", evs: []actEvent{call("a", 0, 10), deact("a", 5)}, overlapping: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cuts := tt.cuts
			if cuts == nil {
				cuts = map[string][]time.Time{}
			}
			now := at(1000)
			if got := len(doubleActivations(tt.evs, cuts, now)) > 0; got != tt.double {
				t.Errorf("double activation found: %v, want %v", got, tt.double)
			}
			if got := len(overlappingTurns(tt.evs, cuts, now)) > 0; got != tt.overlapping {
				t.Errorf("overlapping turns found: %v, want %v", got, tt.overlapping)
			}
		})
	}
}
