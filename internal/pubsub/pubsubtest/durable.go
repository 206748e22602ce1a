package pubsubtest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func (h *harness) testDurable(t *testing.T) {
	if !h.cfg.Durable {
		t.Skip("broker is not configured as durable")
	}
	t.Run("Backlog", h.durableBacklog)
	t.Run("UnackedAfterClose", h.durableUnacked)
}

// createGroup subscribes group to topic once on a separate instance and
// closes it, so the group exists without a running subscriber.
func (h *harness) createGroup(t *testing.T, group, topic string) {
	t.Helper()
	b := h.open(t, group)
	in := h.newInbox()
	cancel := subscribe(t, b, topic, in.handle)
	cancel()
	if err := b.close(t); err != nil {
		t.Fatalf("Close(): %v", err)
	}
	if n := in.total(); n > 0 {
		t.Fatalf("%d messages delivered to a new group before anything was published", n)
	}
}

// durableBacklog publishes while the group has no subscriber; a later
// instance of the group receives everything.
func (h *harness) durableBacklog(t *testing.T) {
	topic, group := h.topic("backlog"), h.group("backlog")
	h.createGroup(t, group, topic)
	want := makeMessages(topic, 10)
	publishAll(t, h.broker, want)
	in := h.newInbox()
	subscribe(t, h.open(t, group), topic, in.handle)
	expectDelivered(t, in, want, deliveryTimeout)
}

// durableUnacked simulates a crash: a subscriber receives messages but its
// handler never finishes before the broker is closed. A new instance of
// the group must receive all of them again.
func (h *harness) durableUnacked(t *testing.T) {
	topic, group := h.topic("unacked"), h.group("unacked")
	h.createGroup(t, group, topic)
	first := h.open(t, group)
	held := h.newInbox()
	subscribe(t, first, topic, func(ctx context.Context, m *pubsub.Message) error {
		held.add(m)
		<-ctx.Done() // never acknowledge
		return ctx.Err()
	})
	want := makeMessages(topic, 20)
	publishAll(t, h.broker, want)
	if !held.wait(deliveryTimeout, func() bool { return len(held.msgs) > 0 }) {
		t.Fatalf("no message reached the first subscriber within %s", deliveryTimeout)
	}
	sleepCtx(t, 200*time.Millisecond) // let more arrive, to hold several in flight
	if err := first.close(t); err != nil {
		t.Fatalf("Close() with handlers in flight: %v", err)
	}
	inFlight := held.distinct()

	in := h.newInbox()
	subscribe(t, h.open(t, group), topic, in.handle)
	expectDelivered(t, in, want, h.cfg.RedeliveryTimeout+deliveryTimeout)
	t.Logf("%d of %d messages were held unacknowledged at close; after restart %d deliveries for %d messages (%d duplicates)",
		inFlight, len(want), in.total(), len(want), in.duplicates())
}

// testMessageTTL publishes a 1s-TTL message while its group has no
// subscriber; it must not be delivered after it expired, while a message
// without TTL published alongside is.
func (h *harness) testMessageTTL(t *testing.T) {
	if !h.has(pubsub.FeatureMessageTTL) {
		t.Skipf("broker lacks %s", pubsub.FeatureMessageTTL)
	}
	if !h.cfg.Durable {
		t.Skip("needs a durable broker to hold the message while nobody consumes it")
	}
	topic, group := h.topic("ttl"), h.group("ttl")
	h.createGroup(t, group, topic)
	msgs := makeMessages(topic, 2)
	expiring, control := msgs[0], msgs[1]
	expiring.Metadata = map[string]string{pubsub.MetaTTLInSeconds: strconv.Itoa(1)}
	publish(t, h.broker, expiring)
	publish(t, h.broker, control)
	sleepCtx(t, 2500*time.Millisecond)

	in := h.newInbox()
	subscribe(t, h.open(t, group), topic, in.handle)
	expectDelivered(t, in, msgs[1:], deliveryTimeout)
	sleepCtx(t, quietPeriod)
	if n := in.count(expiring.Data); n > 0 {
		t.Fatalf("message with ttlInSeconds=1 delivered %d times 2.5s after publishing, want 0", n)
	}
}
