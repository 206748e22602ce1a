package pubsubtest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// contentTypes cycle through the test messages: JSON, text and binary.
var contentTypes = []string{"application/json", "text/plain; charset=utf-8", "application/octet-stream"}

// makeMessages returns n messages for topic whose payloads are unique to
// the topic and index, in three shapes: JSON, non-ASCII text and binary
// bytes that are not valid UTF-8 (to check byte-exact delivery).
func makeMessages(topic string, n int) []*pubsub.PublishRequest {
	out := make([]*pubsub.PublishRequest, n)
	for i := range n {
		var data []byte
		switch i % 3 {
		case 0:
			data = fmt.Appendf(nil, `{"topic":%q,"seq":%d}`, topic, i)
		case 1:
			data = fmt.Appendf(nil, "%s #%d — ünïcödé ✓", topic, i)
		default:
			data = append(fmt.Appendf(nil, "%s#%d:", topic, i), 0x00, 0xff, 0xfe, '\n', 0x80, 0x00)
		}
		out[i] = &pubsub.PublishRequest{Topic: topic, Data: data, ContentType: contentTypes[i%3]}
	}
	return out
}

// inbox records delivered messages and lets tests wait for them.
type inbox struct {
	mu     sync.Mutex
	msgs   []pubsub.Message
	counts map[string]int // payload -> deliveries
	signal chan struct{}  // closed and replaced on every delivery
	// noContentType: the broker cannot carry content types (MQTT 3.1.1).
	noContentType bool
}

func newInbox() *inbox {
	return &inbox{counts: map[string]int{}, signal: make(chan struct{})}
}

// add records a copy of m: the broker may reuse its buffers.
func (in *inbox) add(m *pubsub.Message) {
	c := pubsub.Message{Topic: m.Topic, Data: bytes.Clone(m.Data), ContentType: m.ContentType, Metadata: maps.Clone(m.Metadata)}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.msgs = append(in.msgs, c)
	in.counts[string(c.Data)]++
	close(in.signal)
	in.signal = make(chan struct{})
}

// handle is a Handler that records and acknowledges every message.
func (in *inbox) handle(_ context.Context, m *pubsub.Message) error {
	in.add(m)
	return nil
}

// wait blocks until cond (called with the lock held) is true or timeout
// passes, and reports whether cond held.
func (in *inbox) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		in.mu.Lock()
		ok, ch := cond(), in.signal
		in.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			in.mu.Lock()
			defer in.mu.Unlock()
			return cond()
		}
	}
}

// missingLocked lists the payloads of want not yet delivered.
func (in *inbox) missingLocked(want []*pubsub.PublishRequest) []string {
	var out []string
	for _, w := range want {
		if in.counts[string(w.Data)] == 0 {
			out = append(out, string(w.Data))
		}
	}
	return out
}

// waitAll waits until every message of want arrived and returns the
// payloads still missing at the timeout.
func (in *inbox) waitAll(want []*pubsub.PublishRequest, timeout time.Duration) []string {
	var missing []string
	in.wait(timeout, func() bool {
		missing = in.missingLocked(want)
		return len(missing) == 0
	})
	return missing
}

// count returns how often payload was delivered.
func (in *inbox) count(payload []byte) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts[string(payload)]
}

// distinct returns the number of different payloads delivered.
func (in *inbox) distinct() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.counts)
}

// total returns the number of deliveries.
func (in *inbox) total() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs)
}

// duplicates returns deliveries beyond the first of each payload.
func (in *inbox) duplicates() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.msgs) - len(in.counts)
}

// all returns the deliveries so far, in arrival order.
func (in *inbox) all() []pubsub.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]pubsub.Message(nil), in.msgs...)
}

// expectDelivered fails the test unless every message of want arrives in
// time, on its topic, with its content type, and nothing else arrives.
func expectDelivered(t *testing.T, in *inbox, want []*pubsub.PublishRequest, timeout time.Duration) {
	t.Helper()
	if missing := in.waitAll(want, timeout); len(missing) > 0 {
		t.Fatalf("%d of %d messages not delivered within %s (received %d); first missing: %q",
			len(missing), len(want), timeout, in.total(), missing[0])
	}
	checkMessages(t, in, want)
}

// checkMessages compares every delivery with the published message that
// has the same payload.
func checkMessages(t *testing.T, in *inbox, want []*pubsub.PublishRequest) {
	t.Helper()
	byData := make(map[string]*pubsub.PublishRequest, len(want))
	for _, w := range want {
		byData[string(w.Data)] = w
	}
	bad := 0
	for _, m := range in.all() {
		w, ok := byData[string(m.Data)]
		switch {
		case !ok:
			t.Errorf("unexpected message on topic %q: %q", m.Topic, m.Data)
		case m.Topic != w.Topic:
			t.Errorf("message %q: Topic = %q, want %q", m.Data, m.Topic, w.Topic)
		case m.ContentType != w.ContentType && !in.noContentType:
			t.Errorf("message %q: ContentType = %q, want %q", m.Data, m.ContentType, w.ContentType)
		default:
			continue
		}
		if bad++; bad >= 5 {
			t.Fatal("too many bad messages")
		}
	}
	if d := in.duplicates(); d > 0 {
		t.Logf("%d duplicate deliveries (allowed: at-least-once)", d)
	}
}
