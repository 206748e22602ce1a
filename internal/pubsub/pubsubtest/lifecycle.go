package pubsubtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// recoveryTimeout bounds how long publishing and delivery may take to work
// again after Config.Restart.
const recoveryTimeout = 30 * time.Second

// testRestart disrupts the backend and expects publishing and delivery to
// recover on the existing subscription.
func (h *harness) testRestart(t *testing.T) {
	if h.cfg.Restart == nil {
		t.Skip("no Config.Restart")
	}
	topic := h.topic("restart")
	in := h.newInbox()
	subscribe(t, h.broker, topic, in.handle)
	before := makeMessages(topic, 1)
	publishAll(t, h.broker, before)
	expectDelivered(t, in, before, deliveryTimeout)

	h.cfg.Restart(t)
	start := time.Now()
	for i := 0; ; i++ {
		if time.Since(start) > recoveryTimeout {
			t.Fatalf("no message published after the restart was delivered within %s", recoveryTimeout)
		}
		m := &pubsub.PublishRequest{Topic: topic, Data: fmt.Appendf(nil, "%s-after-%d", topic, i), ContentType: "text/plain"}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := h.broker.Publish(ctx, m)
		cancel()
		if err != nil {
			t.Logf("Publish after restart (attempt %d): %v", i+1, err)
			sleepCtx(t, 250*time.Millisecond)
			continue
		}
		// Any message published after the restart proves recovery.
		if in.wait(time.Second, func() bool { return len(in.counts) > len(before) }) {
			t.Logf("recovered %s after the restart", time.Since(start).Round(time.Millisecond))
			return
		}
	}
}

// testClose closes an instance while its handler runs: Close must cancel
// the handler's context and wait for it, return nil, and stop delivery.
// It finally closes the main broker.
func (h *harness) testClose(t *testing.T) {
	topic := h.topic("close")
	b := h.open(t, h.group("close"))
	var calls atomic.Int32
	started := make(chan struct{}, 1)
	var returned atomic.Bool
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		if calls.Add(1) > 1 {
			return nil
		}
		started <- struct{}{}
		<-ctx.Done()
		returned.Store(true)
		return ctx.Err()
	})
	msgs := makeMessages(topic, 3)
	publish(t, b, msgs[0])
	select {
	case <-started:
	case <-time.After(deliveryTimeout):
		t.Fatalf("message not delivered within %s", deliveryTimeout)
	}
	if err := b.close(t); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if !returned.Load() {
		t.Errorf("Close() returned while a handler was still running: it must cancel and wait for subscriptions")
	}
	// Publishing on the closed instance may fail; the main broker reaches
	// the same topic for brokers that share a backend.
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	_ = b.Publish(ctx, msgs[1])
	cancel()
	publish(t, h.broker, msgs[2])
	sleepCtx(t, quietPeriod)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1: delivery continued after Close", n)
	}
	if err := h.broker.close(t); err != nil {
		t.Errorf("Close() of the main broker = %v, want nil", err)
	}
}
