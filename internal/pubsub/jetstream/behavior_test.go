package jetstream

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/testutil"
)

func TestInitErrors(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name      string
		props     map[string]string
		want      []string
		forbidden string
	}{
		{"missing url", map[string]string{}, []string{"missing natsURL"}, ""},
		{"bad concurrency", map[string]string{"natsURL": "nats://" + dead, "concurrency": "many"}, []string{`invalid concurrency "many"`}, ""},
		{"unreachable names the url without the password",
			map[string]string{"natsURL": "nats://user:s3cret@" + dead},
			[]string{"connect to nats://user:xxxxx@" + dead}, "s3cret"},
		{"token in the url is hidden", map[string]string{"natsURL": "nats://tok3n@" + dead}, []string{"nats://xxxxx@" + dead}, "tok3n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().Init(context.Background(), pubsub.Metadata{Properties: tc.props})
			if err == nil {
				t.Fatal("Init succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Init error %q does not contain %q", err, w)
				}
			}
			if tc.forbidden != "" && strings.Contains(err.Error(), tc.forbidden) {
				t.Errorf("Init error %q leaks %q", err, tc.forbidden)
			}
		})
	}
}

func TestSubscribeWithoutStream(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	b := open(t, map[string]string{})
	topic := uniqueName(t, "nostream-")
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic}, newCollector().handle)
	if err == nil || !strings.Contains(err.Error(), "no stream captures subject") {
		t.Fatalf("Subscribe without a stream = %v, want a 'no stream captures subject' error", err)
	}
	err = b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "no stream captures the subject") {
		t.Fatalf("Publish without a stream = %v, want a 'no stream captures the subject' error", err)
	}
}

// TestDurablePerTopic: one durable consumer filters one subject, so a second
// topic on the same stream under the same durableName is refused clearly.
func TestDurablePerTopic(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	stream := uniqueName(t, "durable-")
	createStream(t, js, stream, stream+".a", stream+".b")
	b := open(t, map[string]string{"streamName": stream, "durableName": "d1"})
	subscribe(t, b, stream+".a", newCollector().handle)
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: stream + ".b"}, newCollector().handle)
	if err == nil || !strings.Contains(err.Error(), "use a durableName per topic") {
		t.Fatalf("second topic under one durableName = %v, want a clear error", err)
	}
}

// TestBindsToExistingConsumer: a durable push consumer made elsewhere (as
// Dapr makes it, with a random inbox as deliver subject and a queue group)
// is reused, not replaced.
func TestBindsToExistingConsumer(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	topic := uniqueName(t, "existing-")
	createStream(t, js, topic, topic)
	inbox := nats.NewInbox()
	_, err := js.CreatePushConsumer(t.Context(), topic, jetstream.ConsumerConfig{
		Durable: "dapr-durable", DeliverSubject: inbox, DeliverGroup: "dapr-group",
		FilterSubject: topic, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("create consumer: %v", err)
	}
	b := open(t, map[string]string{"durableName": "dapr-durable", "queueGroupName": "dapr-group"})
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	publish(t, b, topic, "hello", "text/plain")
	if got := c.wait(t, 1); string(got[0].Data) != "hello" {
		t.Fatalf("got %q", got[0].Data)
	}
	pc, err := js.PushConsumer(t.Context(), topic, "dapr-durable")
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	if got := pc.CachedInfo().Config.DeliverSubject; got != inbox {
		t.Fatalf("deliver subject = %q, want the original %q", got, inbox)
	}
}

// TestBackOffDelaysRedelivery: with backOff, a failed message comes back
// after the first step, not at once.
func TestBackOffDelaysRedelivery(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	topic := uniqueName(t, "backoff-")
	createStream(t, js, topic, topic)
	b := open(t, map[string]string{"backOff": "400ms, 1s", "maxDeliver": "5"})
	var first atomic.Int64
	c := newCollector()
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		if first.CompareAndSwap(0, time.Now().UnixNano()) {
			return errors.New("fail once")
		}
		return c.handle(ctx, m)
	})
	publish(t, b, topic, "retry me", "")
	c.wait(t, 1)
	gap := c.at[0].Sub(time.Unix(0, first.Load()))
	if gap < 350*time.Millisecond {
		t.Fatalf("redelivered after %s, want about the 400ms backOff step", gap)
	}
}

// TestParallel: concurrency=parallel runs handlers at the same time.
func TestParallel(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	topic := uniqueName(t, "parallel-")
	createStream(t, js, topic, topic)
	b := open(t, map[string]string{"concurrency": "parallel"})
	const n = 3
	var running atomic.Int32
	all := make(chan struct{})
	c := newCollector()
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		if running.Add(1) == n {
			close(all)
		}
		select {
		case <-all: // every handler is running at once
		case <-ctx.Done():
			return ctx.Err()
		}
		return c.handle(ctx, m)
	})
	for range n {
		publish(t, b, topic, "m", "")
	}
	c.wait(t, n)
}

// TestMessageFields: the subscription topic (a wildcard here), the actual
// subject in metadata as Dapr sets it, the content type, and messages
// from publishers that send no headers (Dapr).
func TestMessageFields(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	base := uniqueName(t, "fields-")
	createStream(t, js, base, base+".>")
	b := open(t, map[string]string{})
	c := newCollector()
	subscribe(t, b, base+".*", c.handle)
	publish(t, b, base+".x", `{"a":1}`, "application/json")
	if _, err := js.Publish(t.Context(), base+".y", []byte{0xff, 0x00}); err != nil {
		t.Fatal(err)
	}
	got := c.wait(t, 2)
	for i, want := range []pubsub.Message{
		{Topic: base + ".*", Data: []byte(`{"a":1}`), ContentType: "application/json", Metadata: map[string]string{"Topic": base + ".x"}},
		{Topic: base + ".*", Data: []byte{0xff, 0x00}, Metadata: map[string]string{"Topic": base + ".y"}},
	} {
		g := got[i]
		if g.Topic != want.Topic || string(g.Data) != string(want.Data) || g.ContentType != want.ContentType || g.Metadata["Topic"] != want.Metadata["Topic"] {
			t.Errorf("message %d = %+v, want %+v", i, g, want)
		}
	}
}

// TestCloudEventDedup: the CloudEvent id becomes Nats-MsgId, so publishing
// one event twice stores it once.
func TestCloudEventDedup(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	js := admin(t)
	topic := uniqueName(t, "dedup-")
	createStream(t, js, topic, topic)
	b := open(t, map[string]string{})
	ev := `{"specversion":"1.0","id":"evt-1","source":"a","type":"t","data":"x"}`
	publish(t, b, topic, ev, "application/cloudevents+json")
	publish(t, b, topic, ev, "application/cloudevents+json")
	publish(t, b, topic, `{"no":"id"}`, "application/json")
	s, err := js.Stream(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().State.Msgs; got != 2 {
		t.Fatalf("stream holds %d messages, want 2 (the duplicate event dropped)", got)
	}
}

// TestConsumerRecovery: a consumer removed while the connection was down
// (ephemeral ones go after a few idle seconds; a server may lose state) is
// recreated after reconnecting. The ephemeral one starts after the last
// message received; the durable one follows its deliver policy (all).
func TestConsumerRecovery(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	for _, tc := range []struct {
		name    string
		durable string
		want    []string // deliveries after "before"
	}{
		{"ephemeral", "", []string{"after"}},
		{"durable", "rec-durable", []string{"before", "after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := admin(t)
			topic := uniqueName(t, "recover-")
			createStream(t, js, topic, topic)
			p := testutil.StartProxy(t, natsAddr)
			b := open(t, map[string]string{"natsURL": "nats://" + p.Addr(), "durableName": tc.durable})
			c := newCollector()
			subscribe(t, b, topic, c.handle)
			publish(t, b, topic, "before", "")
			c.wait(t, 1)

			s, err := js.Stream(t.Context(), topic)
			if err != nil {
				t.Fatal(err)
			}
			deleted := 0
			for name := range s.ConsumerNames(t.Context()).Name() {
				if err := s.DeleteConsumer(t.Context(), name); err != nil {
					t.Fatalf("delete consumer %s: %v", name, err)
				}
				deleted++
			}
			if deleted != 1 {
				t.Fatalf("deleted %d consumers, want the subscription's one", deleted)
			}
			p.Sever()
			if _, err := js.Publish(t.Context(), topic, []byte("after")); err != nil {
				t.Fatal(err)
			}
			c.wait(t, 1+len(tc.want))
			time.Sleep(300 * time.Millisecond) // anything more would show up now
			var got []string
			for _, m := range c.wait(t, 1+len(tc.want))[1:] {
				got = append(got, string(m.Data))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("deliveries after the consumer was recreated = %q, want %q", got, tc.want)
			}
		})
	}
}
