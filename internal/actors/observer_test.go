package actors

import (
	"context"
	"sync"
	"testing"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
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

// TestObserverCountsOnlyWaitingCallsAsPending holds an actor's turn and
// checks a second call counts as pending while it waits, and only then.
func TestObserverCountsOnlyWaitingCallsAsPending(t *testing.T) {
	obs := &countingObserver{}
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	app := &fakeApp{}
	app.invoke = func(_ context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		if req.GetMessage().GetMethod() == "hold" {
			entered <- struct{}{}
			<-release
		}
		return okResponse(nil), nil
	}
	h := newHarness(t, app, func(c *Config) { c.Observer = obs })
	pending := func() int {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.pending
	}
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "busy", "free", nil)); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("pending = %d after a call that found the turn free, want 0", n)
	}
	errs := make(chan error, 2)
	go func() {
		_, err := h.rt.Invoke(context.Background(), actorCall("counter", "busy", "hold", nil))
		errs <- err
	}()
	<-entered
	go func() {
		_, err := h.rt.Invoke(context.Background(), actorCall("counter", "busy", "queued", nil))
		errs <- err
	}()
	eventually(t, "the queued call to count as pending", func() bool { return pending() == 1 })
	close(release)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := pending(); n != 0 {
		t.Fatalf("pending = %d after every call finished, want 0", n)
	}
}
