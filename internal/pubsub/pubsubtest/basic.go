package pubsubtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func (h *harness) testPublishSubscribe(t *testing.T) {
	topic := h.topic("basic")
	in := h.newInbox()
	subscribe(t, h.broker, topic, in.handle)
	want := makeMessages(topic, 50)
	publishAll(t, h.broker, want)
	expectDelivered(t, in, want, deliveryTimeout)
}

func (h *harness) testTopicsDoNotMix(t *testing.T) {
	const topics, perTopic = 3, 10
	inboxes := make([]*inbox, topics)
	wants := make([][]*pubsub.PublishRequest, topics)
	for i := range topics {
		topic := h.topic(fmt.Sprintf("mix%d", i))
		inboxes[i], wants[i] = h.newInbox(), makeMessages(topic, perTopic)
		subscribe(t, h.broker, topic, inboxes[i].handle)
	}
	// Interleave the topics so a broker that mixes them up shows it.
	for j := range perTopic {
		for i := range topics {
			publish(t, h.broker, wants[i][j])
		}
	}
	for i := range topics {
		expectDelivered(t, inboxes[i], wants[i], deliveryTimeout)
	}
}

// testConcurrentPublish runs 4 publishers of 50 messages each at once.
func (h *harness) testConcurrentPublish(t *testing.T) {
	const publishers, each = 4, 50
	topic := h.topic("concurrent")
	in := h.newInbox()
	subscribe(t, h.broker, topic, in.handle)
	want := makeMessages(topic, publishers*each)
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range want[p*each : (p+1)*each] {
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				err := h.broker.Publish(ctx, m)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("publisher %d: Publish(%q): %w", p, m.Data, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	expectDelivered(t, in, want, deliveryTimeout)
}

// testOrdering publishes 100 messages with one partition key to one
// subscriber and expects them one at a time, in publish order.
func (h *harness) testOrdering(t *testing.T) {
	if !h.cfg.Ordered {
		t.Skip("broker is not configured as ordered")
	}
	topic := h.topic("order")
	in := h.newInbox()
	var inFlight, overlaps atomic.Int32
	subscribe(t, h.broker, topic, func(ctx context.Context, m *pubsub.Message) error {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		if err := in.handle(ctx, m); err != nil {
			return err
		}
		// Slower than publishing, so a backlog builds up: a broker that
		// runs one key's messages concurrently then shows it.
		time.Sleep(2 * time.Millisecond)
		return nil
	})
	want := make([]*pubsub.PublishRequest, 100)
	for i := range want {
		want[i] = &pubsub.PublishRequest{
			Topic: topic, Data: fmt.Appendf(nil, "%s-%03d", topic, i), ContentType: "text/plain",
			Metadata: map[string]string{pubsub.MetaPartitionKey: "pubsubtest"},
		}
	}
	publishAll(t, h.broker, want)
	expectDelivered(t, in, want, deliveryTimeout)
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d handler calls started while another one for the same partition key was running", n)
	}
	// Compare first deliveries only: a redelivered duplicate is allowed.
	seen := map[string]bool{}
	next := 0
	for _, m := range in.all() {
		if seen[string(m.Data)] {
			continue
		}
		seen[string(m.Data)] = true
		if string(m.Data) != string(want[next].Data) {
			t.Fatalf("delivery #%d is %q, want %q (publish order)", next, m.Data, want[next].Data)
		}
		next++
	}
}

func (h *harness) testBulkPublish(t *testing.T) {
	bp, ok := h.broker.Broker.(pubsub.BulkPublisher)
	if !ok {
		t.Skip("broker does not implement pubsub.BulkPublisher")
	}
	topic := h.topic("bulk")
	in := h.newInbox()
	subscribe(t, h.broker, topic, in.handle)
	msgs := makeMessages(topic, 30)
	req := bulkRequest(topic, msgs[:20])
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	failures, err := bp.BulkPublish(ctx, req)
	if err != nil || len(failures) > 0 {
		t.Fatalf("BulkPublish(%d entries) = %v, %v; want no failures", len(req.Entries), failures, err)
	}

	// With a cancelled context the broker may publish or not, but what it
	// reports must match what is delivered.
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	rest := bulkRequest(topic, msgs[20:])
	failures, err = bp.BulkPublish(cancelled, rest)
	want := append([]*pubsub.PublishRequest(nil), msgs[:20]...)
	switch {
	case err != nil:
		t.Logf("BulkPublish with a cancelled context: %v (%d failures listed)", err, len(failures))
		checkFailureIDs(t, rest, failures)
	default:
		failed := checkFailureIDs(t, rest, failures)
		for i, e := range rest.Entries {
			if !failed[e.EntryID] {
				want = append(want, msgs[20+i])
			}
		}
	}
	if missing := in.waitAll(want, deliveryTimeout); len(missing) > 0 {
		t.Fatalf("%d of %d bulk-published messages not delivered within %s; first missing: %q",
			len(missing), len(want), deliveryTimeout, missing[0])
	}
	// Only the cancelled request's entries may be absent or present.
	checkMessages(t, in, msgs)
}

// bulkRequest turns messages of one topic into a bulk publish request.
func bulkRequest(topic string, msgs []*pubsub.PublishRequest) *pubsub.BulkPublishRequest {
	req := &pubsub.BulkPublishRequest{Topic: topic}
	for i, m := range msgs {
		req.Entries = append(req.Entries, pubsub.BulkPublishEntry{
			EntryID: fmt.Sprintf("entry-%d", i), Data: m.Data, ContentType: m.ContentType,
		})
	}
	return req
}

// checkFailureIDs fails on failures that name no entry of req and returns
// the failed entry IDs.
func checkFailureIDs(t *testing.T, req *pubsub.BulkPublishRequest, failures []pubsub.BulkPublishFailure) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, e := range req.Entries {
		ids[e.EntryID] = true
	}
	failed := map[string]bool{}
	for _, f := range failures {
		if !ids[f.EntryID] {
			t.Errorf("BulkPublish failure names unknown entry %q", f.EntryID)
		}
		if f.Error == nil {
			t.Errorf("BulkPublish failure for entry %q has no error", f.EntryID)
		}
		failed[f.EntryID] = true
	}
	return failed
}
