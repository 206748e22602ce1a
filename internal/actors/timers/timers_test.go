package timers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

const deadline = 10 * time.Second

// recorder is a FireFunc that records firings.
type recorder struct {
	mu    sync.Mutex
	calls []Timer
	hook  func(Timer) (bool, error)
}

func (r *recorder) fire(_ context.Context, t Timer) (bool, error) {
	r.mu.Lock()
	r.calls = append(r.calls, t)
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		return hook(t)
	}
	return false, nil
}

func (r *recorder) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if name == "" || c.Name == name {
			n++
		}
	}
	return n
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, c.Name)
	}
	return out
}

func start(t *testing.T, fire FireFunc) *Timers {
	t.Helper()
	tm := New(fire, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tm.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return tm
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, deadline, what, cond)
}

func mustCreate(t *testing.T, tm *Timers, req CreateRequest) {
	t.Helper()
	if req.ActorType == "" {
		req.ActorType = "T"
	}
	if req.ActorID == "" {
		req.ActorID = "a"
	}
	if err := tm.Create(req); err != nil {
		t.Fatalf("Create(%+v): %v", req, err)
	}
}

func TestFiresInDueOrderWithCallData(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "third", DueTime: "600ms"})
	mustCreate(t, tm, CreateRequest{Name: "first", DueTime: "100ms", Callback: "cb", Data: []byte(`{"x":1}`), Period: ""})
	mustCreate(t, tm, CreateRequest{Name: "second", DueTime: "350ms"})
	eventually(t, "three firings", func() bool { return rec.count("") == 3 })
	got := strings.Join(rec.names(), ",")
	if got != "first,second,third" {
		t.Fatalf("firing order = %s, want first,second,third", got)
	}
	rec.mu.Lock()
	first := rec.calls[0]
	rec.mu.Unlock()
	if first.Call.Callback != "cb" || string(first.Call.Data) != `{"x":1}` || first.Call.DueTime != "100ms" {
		t.Fatalf("call = %+v, want callback cb, data {\"x\":1}, dueTime 100ms", first.Call)
	}
	eventually(t, "one-shot timers to be gone", func() bool { return tm.Count() == 0 })
}

func TestPeriodUntilDeleted(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "tick", Period: "20ms"})
	eventually(t, "three ticks", func() bool { return rec.count("tick") >= 3 })
	tm.Delete("T", "a", "tick")
	// A firing that had already started may still land; after that, none.
	time.Sleep(50 * time.Millisecond)
	n := rec.count("tick")
	time.Sleep(150 * time.Millisecond)
	if got := rec.count("tick"); got != n {
		t.Fatalf("timer fired %d more times after Delete", got-n)
	}
	if tm.Count() != 0 {
		t.Fatalf("Count() = %d after Delete, want 0", tm.Count())
	}
}

func TestRepetitions(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "r", Period: "R3/PT1S"})
	mustCreate(t, tm, CreateRequest{Name: "fast", Period: "R4/PT0S"})
	eventually(t, "three firings", func() bool { return rec.count("r") == 3 })
	eventually(t, "timer removal", func() bool { return tm.Count() == 0 })
	if got := rec.count("r"); got != 3 {
		t.Fatalf("R3 timer fired %d times, want 3", got)
	}
	// R4/PT0S has no interval: it fires once, as in Dapr.
	if got := rec.count("fast"); got != 1 {
		t.Fatalf("R4/PT0S timer fired %d times, want 1", got)
	}
}

func TestTTLStopsTimer(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "ttl", Period: "30ms", TTL: "200ms"})
	eventually(t, "ttl expiry", func() bool { return tm.Count() == 0 })
	n := rec.count("ttl")
	if n < 1 || n > 7 {
		t.Fatalf("timer with period 30ms and ttl 200ms fired %d times, want 1..7", n)
	}
	time.Sleep(100 * time.Millisecond)
	if got := rec.count("ttl"); got != n {
		t.Fatalf("timer fired after its ttl (%d -> %d)", n, got)
	}
}

func TestCancelStopsTimer(t *testing.T) {
	rec := &recorder{}
	rec.hook = func(Timer) (bool, error) { return rec.count("c") >= 2, nil }
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "c", Period: "10ms"})
	eventually(t, "cancel", func() bool { return tm.Count() == 0 })
	time.Sleep(60 * time.Millisecond)
	if got := rec.count("c"); got != 2 {
		t.Fatalf("timer fired %d times, want 2 (cancelled on the second)", got)
	}
}

func TestErrorsDoNotStopTimer(t *testing.T) {
	rec := &recorder{}
	rec.hook = func(Timer) (bool, error) { return false, errors.New("app down") }
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "e", Period: "10ms"})
	eventually(t, "firings despite errors", func() bool { return rec.count("e") >= 3 })
}

func TestDeleteWhileFiring(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	rec := &recorder{}
	rec.hook = func(Timer) (bool, error) {
		started.Add(1)
		<-release
		return false, nil
	}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "slow", Period: "10ms"})
	eventually(t, "firing to start", func() bool { return started.Load() == 1 })
	tm.Delete("T", "a", "slow")
	close(release)
	time.Sleep(100 * time.Millisecond)
	if got := started.Load(); got != 1 {
		t.Fatalf("timer fired %d times, want 1 (deleted during its first firing)", got)
	}
}

func TestNoOverlap(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	rec := &recorder{}
	rec.hook = func(Timer) (bool, error) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inFlight.Add(-1)
		return false, nil
	}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "busy", Period: "1ms"})
	eventually(t, "several firings", func() bool { return rec.count("busy") >= 5 })
	if m := maxInFlight.Load(); m != 1 {
		t.Fatalf("max concurrent firings of one timer = %d, want 1", m)
	}
}

func TestDeleteActor(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	for _, req := range []CreateRequest{
		{ActorID: "a", Name: "x", Period: "10ms"},
		{ActorID: "a", Name: "y", Period: "10ms"},
		{ActorID: "b", Name: "z", Period: "10ms"},
	} {
		mustCreate(t, tm, req)
	}
	tm.DeleteActor("T", "a")
	if got := tm.Count(); got != 1 {
		t.Fatalf("Count() = %d after DeleteActor, want 1", got)
	}
	time.Sleep(30 * time.Millisecond) // let a firing that already started land
	nx, ny := rec.count("x"), rec.count("y")
	eventually(t, "actor b's timer", func() bool { return rec.count("z") >= 5 })
	if rec.count("x") != nx || rec.count("y") != ny {
		t.Fatal("timers of a deleted actor kept firing")
	}
}

func TestReplaceByName(t *testing.T) {
	rec := &recorder{}
	tm := start(t, rec.fire)
	mustCreate(t, tm, CreateRequest{Name: "n", DueTime: "1h", Data: []byte(`"old"`)})
	mustCreate(t, tm, CreateRequest{Name: "n", Data: []byte(`"new"`)})
	eventually(t, "the replacement to fire", func() bool { return rec.count("n") == 1 })
	rec.mu.Lock()
	data := string(rec.calls[0].Call.Data)
	rec.mu.Unlock()
	if data != `"new"` {
		t.Fatalf("fired data %s, want \"new\"", data)
	}
	if tm.Count() != 0 {
		t.Fatalf("Count() = %d, want 0 (the replaced timer is gone)", tm.Count())
	}
}

func TestCreateErrors(t *testing.T) {
	tm := New(func(context.Context, Timer) (bool, error) { return false, nil }, nil)
	tests := []struct {
		req  CreateRequest
		want string
	}{
		{CreateRequest{ActorType: "T", ActorID: "a", Name: "n", DueTime: "x"}, "error parsing timer due time: unsupported time/duration format: x"},
		{CreateRequest{ActorType: "T", ActorID: "a", Name: "n", Period: "R0/PT1S"}, "invalid timer period: has zero repetitions"},
		{CreateRequest{ActorType: "T", ActorID: "a", Name: "n", TTL: "-1s"}, "timer T||a||n has already expired"},
	}
	for _, tc := range tests {
		err := tm.Create(tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%+v) = %v, want %q", tc.req, err, tc.want)
		}
	}
	if tm.Count() != 0 {
		t.Fatalf("Count() = %d after failed creates, want 0", tm.Count())
	}
}
