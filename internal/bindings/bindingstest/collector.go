// Package bindingstest holds what the binding tests share: the Collector
// for input events and the conformance suite (Run) every binding runs
// against its real backend.
package bindingstest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// Collector records the events an input binding delivers. It fails the
// first FailFirst calls, so tests can check redelivery.
type Collector struct {
	FailFirst int32

	events chan *bindings.Event
	calls  atomic.Int32
	wait   time.Duration
}

// NewCollector returns a collector whose Next waits at most wait.
func NewCollector(wait time.Duration) *Collector {
	return &Collector{events: make(chan *bindings.Event, 100), wait: wait}
}

// Handle is the bindings.EventHandler to pass to Read.
func (c *Collector) Handle(_ context.Context, ev *bindings.Event) ([]byte, error) {
	c.events <- ev
	if c.calls.Add(1) <= c.FailFirst {
		return nil, errors.New("app failed")
	}
	return nil, nil
}

// Next returns the next event, failing the test if none arrives in time.
func (c *Collector) Next(t testing.TB) *bindings.Event {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case <-time.After(c.wait):
		t.Fatalf("no event within %s", c.wait)
		return nil
	}
}

// None fails the test if an event arrives within d.
func (c *Collector) None(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case ev := <-c.events:
		t.Fatalf("unexpected event %q", ev.Data)
	case <-time.After(d):
	}
}

// drain discards the events received so far.
func (c *Collector) drain() {
	for {
		select {
		case <-c.events:
		default:
			return
		}
	}
}
