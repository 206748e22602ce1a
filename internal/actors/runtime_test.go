package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
)

func TestInvokeLocalEchoes(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	resp, err := h.rt.Invoke(context.Background(), actorCall("counter", "a", "inc", []byte(`{"n":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.GetMessage().GetData().GetValue()); got != `{"n":1}` {
		t.Fatalf("body = %q", got)
	}
	if got := h.pl.lastHosted(); !slices.Equal(got, []string{"counter", "other"}) {
		t.Fatalf("hosted types = %v", got)
	}
	if got := h.rt.Status().ActiveActors["counter"]; got != 1 {
		t.Fatalf("active counter actors = %d, want 1", got)
	}
}

func TestTurnBasedCallsOnOneActorNeverOverlap(t *testing.T) {
	var inflight, maxInflight, calls atomic.Int32
	app := &fakeApp{}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		n := inflight.Add(1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		calls.Add(1)
		inflight.Add(-1)
		return okResponse(nil), nil
	}
	h := newHarness(t, app, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "same", "m", nil)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if calls.Load() != 40 {
		t.Fatalf("calls = %d, want 40", calls.Load())
	}
	if maxInflight.Load() != 1 {
		t.Fatalf("max concurrent calls on one actor = %d, want 1", maxInflight.Load())
	}
}

func TestDifferentActorsRunInParallel(t *testing.T) {
	started := make(chan string, 2)
	release := make(chan struct{})
	app := &fakeApp{}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		started <- req.GetActor().GetActorId()
		<-release
		return okResponse(nil), nil
	}
	h := newHarness(t, app, nil)
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b"} {
		wg.Go(func() {
			if _, err := h.rt.Invoke(context.Background(), actorCall("counter", id, "m", nil)); err != nil {
				t.Error(err)
			}
		})
	}
	// Both calls must be inside the app at the same time.
	for range 2 {
		select {
		case <-started:
		case <-time.After(15 * time.Second):
			t.Fatal("calls on different actors did not run in parallel")
		}
	}
	close(release)
	wg.Wait()
}

func TestWaitingCallGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	app := &fakeApp{}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		if string(req.GetMessage().GetMethod()) == "block" {
			<-release
		}
		return okResponse(nil), nil
	}
	h := newHarness(t, app, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = h.rt.Invoke(context.Background(), actorCall("counter", "x", "block", nil))
	}()
	eventually(t, "first call active", func() bool {
		a := h.rt.table.get("counter", "x")
		if a == nil {
			return false
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.busy
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.rt.Invoke(ctx, actorCall("counter", "x", "quick", nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	close(release)
	<-done
	// The turn is free again: the next call goes through.
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "x", "quick", nil)); err != nil {
		t.Fatal(err)
	}
}

// nestedApp calls the same actor again from inside a call, passing the
// reentrancy id on, as an SDK does, until depth calls are on the stack.
func nestedApp(rt **Runtime, depth int, seen *atomic.Value) *fakeApp {
	app := &fakeApp{}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		rid := req.GetMetadata()[HeaderReentrancyID].GetValues()
		if len(rid) > 0 {
			seen.Store(rid[0])
		}
		level := len(req.GetMessage().GetData().GetValue())
		if level+1 >= depth {
			return okResponse(nil), nil
		}
		next := actorCall(req.Actor.ActorType, req.Actor.ActorId, "m", make([]byte, level+1))
		next.Metadata = req.Metadata
		if _, err := (*rt).Invoke(ctx, next); err != nil {
			return nil, err
		}
		return okResponse(nil), nil
	}
	return app
}

func TestReentrancy(t *testing.T) {
	var rt *Runtime
	var seen atomic.Value
	app := nestedApp(&rt, 3, &seen)
	app.config.Reentrancy = Reentrancy{Enabled: true, MaxStackDepth: 5}
	h := newHarness(t, app, nil)
	rt = h.rt
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := h.rt.Invoke(ctx, actorCall("counter", "r", "m", nil)); err != nil {
		t.Fatal(err)
	}
	if id, _ := seen.Load().(string); id == "" {
		t.Fatal("the app did not receive a Dapr-Reentrancy-Id")
	}
}

func TestReentrancyStackDepth(t *testing.T) {
	var rt *Runtime
	var seen atomic.Value
	app := nestedApp(&rt, 10, &seen)
	app.config.Reentrancy = Reentrancy{Enabled: true, MaxStackDepth: 3}
	h := newHarness(t, app, nil)
	rt = h.rt
	_, err := h.rt.Invoke(context.Background(), actorCall("counter", "deep", "m", nil))
	if !errors.Is(err, ErrStackDepth) {
		t.Fatalf("err = %v, want ErrStackDepth", err)
	}
}

func TestWithoutReentrancyNestedCallWaits(t *testing.T) {
	var rt *Runtime
	var seen atomic.Value
	app := nestedApp(&rt, 2, &seen)
	h := newHarness(t, app, nil)
	rt = h.rt
	// The nested call waits for the outer call's turn, which never ends:
	// it can only fail when the context runs out.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.rt.Invoke(ctx, actorCall("counter", "n", "m", nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if seen.Load() != nil {
		t.Fatal("a reentrancy id was sent with reentrancy disabled")
	}
}

func TestPerTypeReentrancyOverride(t *testing.T) {
	app := &fakeApp{config: AppConfig{
		Entities:       []string{"counter", "other"},
		EntitiesConfig: []EntityConfig{{Entities: []string{"other"}, Reentrancy: &Reentrancy{Enabled: true}, ActorIdleTimeout: time.Minute}},
	}}
	h := newHarness(t, app, nil)
	if h.rt.typeConfig("counter").reentrant {
		t.Fatal("counter must not be reentrant")
	}
	tc := h.rt.typeConfig("other")
	if !tc.reentrant || tc.maxStackDepth != defaultMaxStackDepth || tc.idleTimeout != time.Minute {
		t.Fatalf("other config = %+v", tc)
	}
}

func TestIdleDeactivation(t *testing.T) {
	app := &fakeApp{config: AppConfig{ActorIdleTimeout: 50 * time.Millisecond}}
	h := newHarness(t, app, func(c *Config) { c.ScanInterval = 20 * time.Millisecond })
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "idle", "m", nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "idle deactivation", func() bool {
		return slices.Contains(app.snapshot(&app.deactivated), "counter/idle")
	})
	eventually(t, "timers dropped", func() bool { return slices.Contains(h.timers.droppedActors(), "counter/idle") })
	eventually(t, "actor removed", func() bool { return h.rt.Status().ActiveActors["counter"] == 0 })
	// A new call activates it again.
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "idle", "m", nil)); err != nil {
		t.Fatal(err)
	}
}

func TestBusyActorIsNotIdle(t *testing.T) {
	h := newHarness(t, &fakeApp{config: AppConfig{ActorIdleTimeout: time.Millisecond}}, func(c *Config) { c.ScanInterval = time.Hour })
	a := h.rt.table.getOrCreate("counter", "busy")
	if err := a.lock(context.Background(), "", 1); err != nil {
		t.Fatal(err)
	}
	h.rt.deactivateIdle(context.Background(), time.Now().Add(time.Hour))
	if h.rt.table.get("counter", "busy") == nil {
		t.Fatal("a busy actor was deactivated")
	}
	a.unlock(true)
	h.rt.deactivateIdle(context.Background(), time.Now().Add(time.Hour))
	if h.rt.table.get("counter", "busy") != nil {
		t.Fatal("an idle actor was kept")
	}
}

func TestTableUpdatedDrainsMovedActors(t *testing.T) {
	inCall := make(chan struct{})
	release := make(chan struct{})
	app := &fakeApp{}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		if req.GetActor().GetActorId() == "moving" {
			close(inCall)
			<-release
			app.event("call done " + req.GetActor().GetActorId())
		}
		return okResponse(nil), nil
	}
	h := newHarness(t, app, nil)
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "staying", "m", nil)); err != nil {
		t.Fatal(err)
	}
	callDone := make(chan error, 1)
	go func() {
		_, err := h.rt.Invoke(context.Background(), actorCall("counter", "moving", "m", nil))
		callDone <- err
	}()
	<-inCall

	h.pl.setOwner(func(typ, id string) (Host, error) {
		if id == "moving" {
			return Host{Name: "10.0.0.2:50002"}, nil
		}
		return Host{Name: selfHost}, nil
	})
	updated := make(chan struct{})
	go func() {
		h.rt.TableUpdated(context.Background())
		close(updated)
	}()
	// While the call is in flight the moved actor is not deactivated.
	time.Sleep(50 * time.Millisecond)
	if slices.Contains(app.snapshot(&app.deactivated), "counter/moving") {
		t.Fatal("deactivated before the in-flight call finished")
	}
	close(release)
	if err := <-callDone; err != nil {
		t.Fatal(err)
	}
	<-updated
	ev := app.snapshot(&app.events)
	if !slices.Equal(ev, []string{"call done moving", "deactivate counter/moving"}) {
		t.Fatalf("events = %v", ev)
	}
	if h.rt.table.get("counter", "staying") == nil {
		t.Fatal("an actor that stayed was deactivated")
	}
}

func TestTableUpdatedWithoutDrainDoesNotWait(t *testing.T) {
	release := make(chan struct{})
	inCall := make(chan struct{})
	no := false
	app := &fakeApp{config: AppConfig{DrainRebalancedActors: &no}}
	app.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		close(inCall)
		<-release
		return okResponse(nil), nil
	}
	h := newHarness(t, app, nil)
	go func() { _, _ = h.rt.Invoke(context.Background(), actorCall("counter", "m", "m", nil)) }()
	<-inCall
	h.pl.setOwner(func(string, string) (Host, error) { return Host{Name: "elsewhere:1"}, nil })
	h.rt.TableUpdated(context.Background()) // returns without the call finishing
	close(release)
	if !slices.Contains(app.snapshot(&app.deactivated), "counter/m") {
		t.Fatal("moved actor not deactivated")
	}
}

func TestCallRaceWithTableChangeRoutesAgain(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	gen := h.rt.gen.Load()
	h.rt.TableUpdated(context.Background())
	// A call that looked the owner up before the change must not run here.
	if _, err := h.rt.callLocal(context.Background(), gen, actorCall("counter", "late", "m", nil)); !errors.Is(err, errMoved) {
		t.Fatalf("err = %v, want errMoved", err)
	}
}

func TestPlacementLostDeactivatesAll(t *testing.T) {
	app := &fakeApp{}
	h := newHarness(t, app, nil)
	for i := range 5 {
		if _, err := h.rt.Invoke(context.Background(), actorCall("counter", fmt.Sprint(i), "m", nil)); err != nil {
			t.Fatal(err)
		}
	}
	h.rt.PlacementLost(context.Background())
	if got := len(app.snapshot(&app.deactivated)); got != 5 {
		t.Fatalf("deactivated %d actors, want 5", got)
	}
	if n := h.rt.Status().ActiveActors["counter"]; n != 0 {
		t.Fatalf("%d actors still active", n)
	}
}

func TestAppHealthControlsHostedTypes(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	h.rt.SetAppHealthy(false)
	if got := h.pl.lastHosted(); len(got) != 0 {
		t.Fatalf("unhealthy app hosts %v", got)
	}
	h.rt.SetAppHealthy(true)
	if got := h.pl.lastHosted(); !slices.Equal(got, []string{"counter", "other"}) {
		t.Fatalf("healthy app hosts %v", got)
	}
}

func TestShutdownDeactivatesAndRefuses(t *testing.T) {
	app := &fakeApp{}
	h := newHarness(t, app, nil)
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "s", "m", nil)); err != nil {
		t.Fatal(err)
	}
	h.rt.Shutdown(context.Background())
	if !slices.Contains(app.snapshot(&app.deactivated), "counter/s") {
		t.Fatal("actor not deactivated on shutdown")
	}
	if got := h.pl.lastHosted(); len(got) != 0 {
		t.Fatalf("still hosting %v after shutdown", got)
	}
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "s", "m", nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
}

func TestAppResults(t *testing.T) {
	tests := []struct {
		name      string
		resp      *internalsv1.InternalInvokeResponse
		actorErr  bool
		wantError string
	}{
		{"ok", okResponse([]byte("x")), false, ""},
		{"app actor error", func() *internalsv1.InternalInvokeResponse {
			r := okResponse([]byte("boom"))
			r.Status.Code = 500
			r.Headers = map[string]*internalsv1.ListStringValue{"X-Daprerrorresponseheader": {Values: []string{"x"}}}
			return r
		}(), true, ""},
		{"not found", func() *internalsv1.InternalInvokeResponse {
			r := okResponse([]byte("no method"))
			r.Status.Code = 404
			return r
		}(), false, "error from actor service: (404) no method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &fakeApp{}
			app.invoke = func(context.Context, *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
				return tt.resp, nil
			}
			h := newHarness(t, app, nil)
			_, err := h.rt.Invoke(context.Background(), actorCall("counter", "r", "m", nil))
			_, isActor := IsActorError(err)
			if isActor != tt.actorErr {
				t.Fatalf("actor error = %v (%v)", isActor, err)
			}
			if tt.wantError != "" && (err == nil || err.Error() != tt.wantError) {
				t.Fatalf("err = %v, want %q", err, tt.wantError)
			}
			if tt.wantError == "" && !tt.actorErr && err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNoHost(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	h.pl.setOwner(func(string, string) (Host, error) { return Host{}, ErrNoHost })
	if _, err := h.rt.Invoke(context.Background(), actorCall("unknown", "1", "m", nil)); !errors.Is(err, ErrNoHost) {
		t.Fatalf("err = %v", err)
	}
}

func TestTimersFireOnlyWhileActive(t *testing.T) {
	app := &fakeApp{}
	h := newHarness(t, app, nil)
	cancel, err := h.rt.FireTimer(context.Background(), "counter", "t", "tick", TimerCall{Callback: "cb"})
	if err != nil || !cancel {
		t.Fatalf("timer of inactive actor: cancel=%v err=%v, want cancel", cancel, err)
	}
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "t", "m", nil)); err != nil {
		t.Fatal(err)
	}
	cancel, err = h.rt.FireTimer(context.Background(), "counter", "t", "tick", TimerCall{Callback: "cb"})
	if err != nil || cancel {
		t.Fatalf("cancel=%v err=%v", cancel, err)
	}
	if got := app.snapshot(&app.timers); !slices.Equal(got, []string{"counter/t/tick"}) {
		t.Fatalf("timers = %v", got)
	}
}

func TestRemindersActivateLocally(t *testing.T) {
	app := &fakeApp{}
	h := newHarness(t, app, nil)
	if _, err := h.rt.FireReminder(context.Background(), "counter", "rem", "wake", ReminderCall{}); err != nil {
		t.Fatal(err)
	}
	if got := app.snapshot(&app.reminders); !slices.Equal(got, []string{"counter/rem/wake"}) {
		t.Fatalf("reminders = %v", got)
	}
	if h.rt.table.get("counter", "rem") == nil {
		t.Fatal("reminder did not activate the actor")
	}
}

func TestReminderOperationsNeedHostedType(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	if err := h.rt.CreateReminder(context.Background(), ReminderRequest{ActorType: "foreign", ActorID: "1", Name: "r"}); !errors.Is(err, ErrNotHosted) {
		t.Fatalf("err = %v, want ErrNotHosted", err)
	}
}

func TestTableUpdatedRebalancesReminders(t *testing.T) {
	h := newHarness(t, &fakeApp{}, nil)
	h.rt.TableUpdated(context.Background())
	eventually(t, "reminders rebalanced", func() bool { return h.rems.rebalanced.Load() > 0 })
}

func TestTableUpdatedWaitsForDeactivationInProgress(t *testing.T) {
	inDeactivate := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	app := &fakeApp{}
	app.onDeactivate = func() {
		once.Do(func() { close(inDeactivate) })
		<-release
	}
	h := newHarness(t, app, func(c *Config) { c.ScanInterval = time.Hour })
	if _, err := h.rt.Invoke(context.Background(), actorCall("counter", "d", "m", nil)); err != nil {
		t.Fatal(err)
	}
	// An idle deactivation is under way when the table changes.
	idleDone := make(chan struct{})
	go func() {
		h.rt.deactivateIdle(context.Background(), time.Now().Add(2*time.Hour))
		close(idleDone)
	}()
	<-inDeactivate
	h.pl.setOwner(func(string, string) (Host, error) { return Host{Name: "elsewhere:1"}, nil })
	updated := make(chan struct{})
	go func() {
		h.rt.TableUpdated(context.Background())
		close(updated)
	}()
	select {
	case <-updated:
		t.Fatal("TableUpdated returned while the actor was still being deactivated")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-updated
	<-idleDone
	if h.rt.table.get("counter", "d") != nil {
		t.Fatal("actor still in the table")
	}
}
