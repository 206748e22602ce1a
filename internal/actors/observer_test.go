package actors

import (
	"context"
	"sync"
	"testing"
	"time"
)

// countingObserver counts lifecycle events by name.
type countingObserver struct {
	mu      sync.Mutex
	counts  map[string]int
	pending int
}

func (o *countingObserver) add(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int{}
	}
	o.counts[name]++
}

func (o *countingObserver) get(name string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[name]
}

func (o *countingObserver) ActorActivated(string)          { o.add("activated") }
func (o *countingObserver) ActorDeactivated(string, error) { o.add("deactivated") }
func (o *countingObserver) ActorTimerFired(string, bool)   { o.add("timer") }
func (o *countingObserver) ActorReminderFired(string, bool) {
	o.add("reminder")
}
func (o *countingObserver) ActorPendingCallsAdd(_ string, d int) {
	o.mu.Lock()
	o.pending += d
	o.mu.Unlock()
}

func TestObserverSeesLifecycle(t *testing.T) {
	obs := &countingObserver{}
	app := &fakeApp{config: AppConfig{ActorIdleTimeout: 50 * time.Millisecond}}
	h := newHarness(t, app, func(c *Config) {
		c.ScanInterval = 20 * time.Millisecond
		c.Observer = obs
	})
	for range 3 {
		if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "seen", "m", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := obs.get("activated"); n != 1 {
		t.Fatalf("activated %d times for three calls on one actor, want 1", n)
	}
	eventually(t, "the deactivation to be observed", func() bool { return obs.get("deactivated") == 1 })
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.pending != 0 {
		t.Fatalf("pending calls = %d after every call finished, want 0", obs.pending)
	}
}
