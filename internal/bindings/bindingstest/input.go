package bindingstest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// settle is how long the suite lets a stopped reader wind down before it
// checks that nothing more arrives, and quiet how long it then watches.
// quiet is longer than the one-second tick the cron binding's test uses.
const (
	settle = 500 * time.Millisecond
	quiet  = 1500 * time.Millisecond
)

// runInput runs the input subtests in parallel: each has its own
// instance and backend resources, and most of their time is waiting.
func (c Config) runInput(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Deliver", c.testDeliver},
		{"FailedEvent", c.testFailedEvent},
		{"CancelStopsDelivery", c.testCancelStops},
		{"Close", c.testInputClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

// feed is one subtest's input side and the means to make it emit events.
type feed struct {
	c   Config
	md  bindings.Metadata
	in  bindings.Input
	out bindings.Output // the output side that produces, created on first use
	seq int
}

// newFeed initialises an input with fresh metadata; it is closed when t
// ends.
func (c Config) newFeed(t *testing.T) *feed {
	t.Helper()
	f := &feed{c: c, md: c.Metadata(t), in: c.NewInput()}
	if err := c.within(t, "input Init", func() error { return f.in.Init(c.callCtx(t), f.md) }); err != nil {
		t.Fatalf("input Init: %v", err)
	}
	t.Cleanup(func() { _ = f.in.Close() })
	return f
}

// read starts reading into col; Read must return once reading started.
func (f *feed) read(t *testing.T, ctx context.Context, col *Collector) {
	t.Helper()
	if err := f.c.within(t, "Read", func() error { return f.in.Read(ctx, col.Handle) }); err != nil {
		t.Fatalf("Read: %v", err)
	}
}

// selfEmitting reports whether the input makes its events by itself.
func (c Config) selfEmitting() bool { return c.Produce == nil && c.Send == nil }

// produce makes the backend emit one event and returns its data (nil for
// a self-emitting input, which is left to tick) and the request that
// produced it, if any.
func (f *feed) produce(t *testing.T) ([]byte, *bindings.InvokeRequest) {
	t.Helper()
	f.seq++
	data := fmt.Appendf(nil, "conformance event %d of %s", f.seq, t.Name())
	switch {
	case f.c.Produce != nil:
		f.c.Produce(t, f.md, data)
		return data, nil
	case f.c.Send != nil:
		if f.out == nil {
			f.out = f.c.newOutput(t, f.md)
		}
		req := f.c.Send(data)
		if _, err := f.c.invoke(t, f.out, req); err != nil {
			t.Fatalf("producing an event with Invoke %s: %v", req.Operation, err)
		}
		return data, req
	}
	return nil, nil
}

// expect waits for the event carrying data (any event for a self-emitting
// input) and checks it.
func (f *feed) expect(t *testing.T, col *Collector, data []byte, sent *bindings.InvokeRequest) *bindings.Event {
	t.Helper()
	ev := col.Next(t)
	if data != nil && !bytes.Equal(ev.Data, data) {
		t.Fatalf("event data = %q, want %q", ev.Data, data)
	}
	if f.c.CheckEvent != nil {
		f.c.CheckEvent(t, f.md, sent, ev)
	}
	return ev
}

// testDeliver: events reach the handler one after the other.
func (c Config) testDeliver(t *testing.T) {
	f := c.newFeed(t)
	col := NewCollector(c.Wait)
	f.read(t, t.Context(), col)
	for range 2 {
		data, sent := f.produce(t)
		f.expect(t, col, data, sent)
	}
}

// testFailedEvent: when the app fails an event, a redelivering input
// offers the same event again; any input keeps delivering later events.
func (c Config) testFailedEvent(t *testing.T) {
	f := c.newFeed(t)
	col := NewCollector(c.Wait)
	col.FailFirst = 1
	f.read(t, t.Context(), col)
	data, sent := f.produce(t)
	f.expect(t, col, data, sent)
	if c.Redelivers {
		f.expect(t, col, data, sent) // the same event again
	}
	data, sent = f.produce(t)
	f.expect(t, col, data, sent)
}

// testCancelStops: once Read's context ends, no more events arrive.
func (c Config) testCancelStops(t *testing.T) {
	f := c.newFeed(t)
	col := NewCollector(c.Wait)
	ctx, cancel := context.WithCancel(t.Context())
	f.read(t, ctx, col)
	data, sent := f.produce(t)
	f.expect(t, col, data, sent)
	cancel()
	time.Sleep(settle)
	col.drain()
	f.produce(t)
	col.None(t, quiet)
}

// testInputClose: Close returns while reading, a second Close returns,
// and nothing arrives afterwards; Read after Close must not panic.
func (c Config) testInputClose(t *testing.T) {
	f := c.newFeed(t)
	col := NewCollector(c.Wait)
	f.read(t, t.Context(), col)
	data, sent := f.produce(t)
	f.expect(t, col, data, sent)
	if err := c.within(t, "input Close", f.in.Close); err != nil {
		t.Fatalf("input Close: %v", err)
	}
	if err := c.within(t, "second input Close", f.in.Close); err != nil {
		t.Logf("second Close: %v", err) // an error is fine; a hang or panic is not
	}
	col.drain()
	f.produce(t)
	col.None(t, quiet)
	if err := c.within(t, "Read after Close", func() error { return f.in.Read(t.Context(), col.Handle) }); err != nil {
		t.Logf("Read after Close: %v", err)
	}
}

// testRoundTrip: what the output sends the input receives, data byte for
// byte (binary, empty lines, non-UTF-8) and the documented metadata.
func (c Config) testRoundTrip(t *testing.T) {
	f := c.newFeed(t)
	col := NewCollector(c.Wait)
	f.read(t, t.Context(), col)
	f.out = c.newOutput(t, f.md)
	payloads := [][]byte{
		[]byte(`{"order":42,"note":"ünïcödé ✓"}`),
		{0x00, 0x01, 0xfe, 0xff, '\n', '\r', '\n', 0x80},
		bytes.Repeat([]byte("0123456789abcdef"), 4096), // 64 KiB
	}
	for i, data := range payloads {
		req := c.Send(data)
		if _, err := c.invoke(t, f.out, req); err != nil {
			t.Fatalf("payload %d: Invoke %s: %v", i, req.Operation, err)
		}
		ev := col.Next(t)
		if !bytes.Equal(ev.Data, data) {
			t.Fatalf("payload %d: event data (%d bytes) differs from what was sent (%d bytes)", i, len(ev.Data), len(data))
		}
		if c.CheckEvent != nil {
			c.CheckEvent(t, f.md, req, ev)
		}
	}
}
