package pubsubtest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// errDeliberate is what failing test handlers return.
var errDeliberate = errors.New("pubsubtest: deliberate handler failure")

// testRedelivery fails the first attempt of every message and expects each
// to come back.
func (h *harness) testRedelivery(t *testing.T) {
	topic := h.topic("redeliver")
	in := h.newInbox()
	var mu sync.Mutex
	attempts := map[string]int{}
	subscribe(t, h.broker, topic, func(ctx context.Context, m *pubsub.Message) error {
		mu.Lock()
		attempts[string(m.Data)]++
		n := attempts[string(m.Data)]
		mu.Unlock()
		if n == 1 {
			return errDeliberate
		}
		return in.handle(ctx, m)
	})
	want := makeMessages(topic, 3)
	start := time.Now()
	publishAll(t, h.broker, want)
	expectDelivered(t, in, want, h.cfg.RedeliveryTimeout+deliveryTimeout)
	t.Logf("all failed messages redelivered after %s", time.Since(start).Round(time.Millisecond))
}

// testCancelStops cancels a subscription while its handler runs: the
// handler must see the cancellation, and no further handler calls may
// follow. A durable broker then hands the cancelled message and the ones
// published meanwhile to the next subscriber of the group.
func (h *harness) testCancelStops(t *testing.T) {
	topic := h.topic("cancel")
	var calls atomic.Int32
	started := make(chan struct{}, 1)
	returned := make(chan error, 1)
	cancel := subscribe(t, h.broker, topic, func(ctx context.Context, m *pubsub.Message) error {
		if calls.Add(1) > 1 {
			return nil // counted; the assertions below flag it
		}
		started <- struct{}{}
		<-ctx.Done()
		returned <- ctx.Err()
		return ctx.Err()
	})
	msgs := makeMessages(topic, 5)
	publish(t, h.broker, msgs[0])
	select {
	case <-started:
	case <-time.After(deliveryTimeout):
		t.Fatalf("first message not delivered within %s", deliveryTimeout)
	}
	cancel()
	select {
	case <-returned:
	case <-time.After(opTimeout):
		t.Fatalf("handler context not cancelled within %s of cancelling the subscription", opTimeout)
	}
	publishAll(t, h.broker, msgs[1:])
	sleepCtx(t, quietPeriod)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1: calls continued after the subscription was cancelled", n)
	}
	if !h.cfg.Durable {
		return
	}
	in := h.newInbox()
	subscribe(t, h.broker, topic, in.handle)
	expectDelivered(t, in, msgs, h.cfg.RedeliveryTimeout+deliveryTimeout)
}
