package pubsubtest

import (
	"context"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// sharedWorkMessages is published to two instances of one group.
const sharedWorkMessages = 200

func (h *harness) testConsumerGroups(t *testing.T) {
	if !h.cfg.ConsumerGroups {
		t.Skip("broker is not configured with consumer groups")
	}
	t.Run("FanOut", h.groupsFanOut)
	t.Run("SharedWork", h.groupsSharedWork)
}

// groupsFanOut: two groups on one topic each receive every message.
func (h *harness) groupsFanOut(t *testing.T) {
	topic := h.topic("fanout")
	a, b := h.newInbox(), h.newInbox()
	subscribe(t, h.open(t, h.group("fan-a")), topic, a.handle)
	subscribe(t, h.open(t, h.group("fan-b")), topic, b.handle)
	want := makeMessages(topic, 20)
	publishAll(t, h.broker, want)
	expectDelivered(t, a, want, deliveryTimeout)
	expectDelivered(t, b, want, deliveryTimeout)
}

// groupsSharedWork: two instances of one group split the messages. Each
// handler holds its message until both instances received one (or a
// deadline passes), so one instance cannot take everything while the
// other is still polling.
func (h *harness) groupsSharedWork(t *testing.T) {
	topic, group := h.topic("shared"), h.group("shared")
	ins := []*inbox{h.newInbox(), h.newInbox()}
	bothGot := func() bool { return ins[0].total() > 0 && ins[1].total() > 0 }
	release := time.Now().Add(deliveryTimeout)
	for _, in := range ins {
		subscribe(t, h.open(t, group), topic, func(ctx context.Context, m *pubsub.Message) error {
			in.add(m)
			for !bothGot() && time.Now().Before(release) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
			return nil
		})
	}
	want := makeMessages(topic, sharedWorkMessages)
	publishAll(t, h.broker, want)

	union := h.newInbox()
	deadline := time.Now().Add(2 * deliveryTimeout)
	for {
		for _, in := range ins {
			for _, m := range in.all() {
				if union.count(m.Data) == 0 {
					union.add(&m)
				}
			}
		}
		if len(union.waitAll(want, 0)) == 0 || time.Now().After(deadline) {
			break
		}
		sleepCtx(t, 50*time.Millisecond)
	}
	if missing := union.waitAll(want, 0); len(missing) > 0 {
		t.Fatalf("%d of %d messages not delivered to either instance; first missing: %q", len(missing), len(want), missing[0])
	}
	checkMessages(t, union, want)
	n0, n1 := ins[0].total(), ins[1].total()
	t.Logf("instance 1 handled %d, instance 2 handled %d deliveries (%d duplicates)", n0, n1, n0+n1-len(want))
	if n0 == 0 || n1 == 0 {
		t.Fatalf("one instance of the group got no message (%d / %d): the group does not share work", n0, n1)
	}
}
