package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
)

func memoryStore(t *testing.T, name string) *state.Component {
	t.Helper()
	keys, err := state.NewKeyScheme("", "app", name, "")
	if err != nil {
		t.Fatal(err)
	}
	return state.NewComponent(name, "state.in-memory", "v1", memory.New(), keys, false)
}

func TestSwapComponentsServesNewSetAtOnce(t *testing.T) {
	old := memoryStore(t, "old")
	c := New(Config{AppID: "app", StateStores: []*state.Component{old}})
	next := memoryStore(t, "next")
	drain := c.SwapComponents(Components{StateStores: []*state.Component{next}})
	if _, err := c.store("old"); err == nil {
		t.Fatal("removed store still served")
	}
	if got, err := c.store("next"); err != nil || got != next {
		t.Fatalf("store(next) = %v, %v", got, err)
	}
	// No call was in flight: the drain returns at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := drain(ctx); err != nil {
		t.Fatalf("drain with no calls: %v", err)
	}
}

func TestSwapComponentsDrainWaitsForEarlierCalls(t *testing.T) {
	c := New(Config{AppID: "app", StateStores: []*state.Component{memoryStore(t, "s")}})
	leaveEarly := c.EnterCall()
	drain := c.SwapComponents(Components{StateStores: []*state.Component{memoryStore(t, "s")}})
	leaveLate := c.EnterCall() // started after the swap: not waited for
	defer leaveLate()

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain returned %v while an earlier call was open", err)
	}
	done := make(chan error, 1)
	go func() { done <- drain(context.Background()) }()
	leaveEarly()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not finish after the earlier call left")
	}
}
