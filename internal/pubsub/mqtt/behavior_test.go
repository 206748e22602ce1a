package mqtt

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/testutil"
)

func TestInitUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	err = New().Init(context.Background(), pubsub.Metadata{Properties: map[string]string{
		"url": "tcp://u:s3cret@" + dead, "consumerID": "c1",
	}})
	if err == nil {
		t.Fatal("Init succeeded against a closed port")
	}
	if want := "connect to tcp://u:xxxxx@" + dead + ` as client "c1"`; !strings.Contains(err.Error(), want) {
		t.Errorf("Init error %q does not contain %q", err, want)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Init error %q leaks the password", err)
	}
}

// TestPayloadsAndFields: payloads arrive byte-exact, with the actual topic
// and Dapr's "retained" metadata; MQTT 3.1.1 has no content type.
func TestPayloadsAndFields(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/fields/")
	b := open(t, uniqueName(t, "fields-"), map[string]string{})
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	payloads := [][]byte{[]byte(`{"a":1}`), []byte("ünïcödé ✓"), {0x00, 0xff, 0xfe, '\n', 0x80}, {}}
	for _, p := range payloads {
		if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: p, ContentType: "application/octet-stream"}); err != nil {
			t.Fatal(err)
		}
	}
	got := c.wait(t, len(payloads))
	for _, p := range payloads {
		found := false
		for _, m := range got {
			if bytes.Equal(m.Data, p) {
				found = true
				if m.Topic != topic || m.ContentType != "" || m.Metadata["retained"] != "false" {
					t.Errorf("message %q = %+v", p, m)
				}
			}
		}
		if !found {
			t.Errorf("payload %q not delivered byte-exact", p)
		}
	}
}

// TestWildcardsAndSharedSubscriptions routes by filter; a $share filter
// receives messages on their own topic.
func TestWildcardsAndSharedSubscriptions(t *testing.T) {
	requireMosquitto(t)
	base := uniqueName(t, "outrigger/wild-")
	b := open(t, uniqueName(t, "wild-"), map[string]string{})
	plus, hash, shared := newCollector(), newCollector(), newCollector()
	subscribe(t, b, base+"/+/x", plus.handle)
	subscribe(t, b, base+"/deep/#", hash.handle)
	subscribe(t, b, "$share/g1/"+base+"/shared", shared.handle)
	publish(t, b, base+"/a/x", []byte("1"), nil)
	publish(t, b, base+"/deep/a/b", []byte("2"), nil)
	publish(t, b, base+"/shared", []byte("3"), nil)
	for _, tc := range []struct {
		c     *collector
		topic string
	}{{plus, base + "/a/x"}, {hash, base + "/deep/a/b"}, {shared, base + "/shared"}} {
		if got := tc.c.wait(t, 1); got[0].Topic != tc.topic {
			t.Errorf("delivered on %q, want %q", got[0].Topic, tc.topic)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := plus.count() + hash.count() + shared.count(); n != 3 {
		t.Errorf("%d deliveries, want 3 (one per message)", n)
	}
}

// TestRetain: metadata retain=true makes the broker keep the message for
// later subscribers, who see retained=true.
func TestRetain(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/retain/")
	b := open(t, uniqueName(t, "retain-"), map[string]string{})
	publish(t, b, topic, []byte("last known"), map[string]string{"retain": "true"})
	t.Cleanup(func() { publish(t, b, topic, nil, map[string]string{"retain": "true"}) }) // clears it
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	if got := c.wait(t, 1); string(got[0].Data) != "last known" || got[0].Metadata["retained"] != "true" {
		t.Fatalf("got %+v, want the retained message", got[0])
	}
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Metadata: map[string]string{"retain": "maybe"}}); err == nil {
		t.Fatal("Publish with retain=maybe succeeded")
	}
}

// TestInvalidPublishTopic is refused locally: the broker would drop the
// whole connection.
func TestInvalidPublishTopic(t *testing.T) {
	requireMosquitto(t)
	b := open(t, uniqueName(t, "invalid-"), map[string]string{})
	for _, topic := range []string{"", "a/+", "a/#"} {
		if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic}); err == nil {
			t.Errorf("Publish(%q) succeeded", topic)
		}
	}
	topic := uniqueName(t, "outrigger/valid/")
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	publish(t, b, topic, []byte("still connected"), nil)
	c.wait(t, 1)
}

// TestRetryAfterError: a failed handler is called again after a short
// backoff, and the message is acknowledged once it succeeds.
func TestRetryAfterError(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/retry/")
	b := open(t, uniqueName(t, "retry-"), map[string]string{})
	var calls atomic.Int32
	c := newCollector()
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return c.handle(ctx, m)
	})
	publish(t, b, topic, []byte("x"), nil)
	c.wait(t, 1)
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler called %d times, want 3", n)
	}
}

// TestParallelHandlers: like Dapr's component, messages are handled
// concurrently.
func TestParallelHandlers(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/parallel/")
	b := open(t, uniqueName(t, "parallel-"), map[string]string{})
	const n = 3
	var running atomic.Int32
	all := make(chan struct{})
	c := newCollector()
	subscribe(t, b, topic, func(ctx context.Context, m *pubsub.Message) error {
		if running.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-ctx.Done():
			return ctx.Err()
		}
		return c.handle(ctx, m)
	})
	for range n {
		publish(t, b, topic, []byte("m"), nil)
	}
	c.wait(t, n)
}

// TestBacklogBeforeSubscribe: a persistent session receives what was
// published while its client was away; those messages arrive on connect,
// before Subscribe, and are held until it.
func TestBacklogBeforeSubscribe(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/backlog/")
	id := uniqueName(t, "backlog-")
	first := open(t, id, map[string]string{})
	cancel := subscribe(t, first, topic, newCollector().handle)
	cancel()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	pub := open(t, uniqueName(t, "pub-"), map[string]string{})
	for _, d := range []string{"1", "2", "3"} {
		publish(t, pub, topic, []byte(d), nil)
	}
	second := open(t, id, map[string]string{})
	time.Sleep(100 * time.Millisecond) // the session's queue arrives now
	c := newCollector()
	subscribe(t, second, topic, c.handle)
	c.wait(t, 3)
}

// TestUnackedAfterClose: messages whose handler did not finish before
// Close come back to the next connection with the same client id.
func TestUnackedAfterClose(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/unacked/")
	id := uniqueName(t, "unacked-")
	first := open(t, id, map[string]string{})
	var held atomic.Int32
	subscribe(t, first, topic, func(ctx context.Context, _ *pubsub.Message) error {
		held.Add(1)
		<-ctx.Done()
		return ctx.Err()
	})
	for _, d := range []string{"1", "2", "3"} {
		publish(t, first, topic, []byte(d), nil)
	}
	for held.Load() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := open(t, id, map[string]string{})
	c := newCollector()
	subscribe(t, second, topic, c.handle)
	c.wait(t, 3)
}

// TestCancelAndResubscribe: after a cancelled subscription no handler runs;
// the persistent session keeps receiving, and a new subscription on the
// same broker gets the cancelled message and those published meanwhile.
func TestCancelAndResubscribe(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/cancel/")
	b := open(t, uniqueName(t, "cancel-"), map[string]string{})
	var calls atomic.Int32
	started := make(chan struct{})
	cancel := subscribe(t, b, topic, func(ctx context.Context, _ *pubsub.Message) error {
		if calls.Add(1) == 1 {
			close(started)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	publish(t, b, topic, []byte("0"), nil)
	<-started
	cancel()
	publish(t, b, topic, []byte("1"), nil)
	publish(t, b, topic, []byte("2"), nil)
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	c.wait(t, 3)
}

// TestUnsubscribeOnClose: with that request metadata, stopping the
// subscription unsubscribes at the broker, so later messages are not kept.
func TestUnsubscribeOnClose(t *testing.T) {
	requireMosquitto(t)
	topic := uniqueName(t, "outrigger/unsub/")
	b := open(t, uniqueName(t, "unsub-"), map[string]string{})
	ctx, cancel := context.WithCancel(context.Background())
	req := pubsub.SubscribeRequest{Topic: topic, Metadata: map[string]string{"unsubscribeOnClose": "true"}}
	if err := b.Subscribe(ctx, req, newCollector().handle); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(200 * time.Millisecond) // the UNSUBSCRIBE round trip
	publish(t, b, topic, []byte("dropped"), nil)
	c := newCollector()
	subscribe(t, b, topic, c.handle)
	publish(t, b, topic, []byte("kept"), nil)
	if got := c.wait(t, 1); string(got[0].Data) != "kept" {
		t.Fatalf("got %q, want only the message published after re-subscribing", got[0].Data)
	}
	time.Sleep(100 * time.Millisecond)
	if n := c.count(); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
}

// TestReconnect cuts the connection and refuses new ones for a moment:
// messages published meanwhile by another client arrive after the
// reconnect, for a persistent session and (re-subscribed) a clean one.
func TestReconnect(t *testing.T) {
	requireMosquitto(t)
	for _, clean := range []string{"false", "true"} {
		t.Run("cleanSession="+clean, func(t *testing.T) {
			topic := uniqueName(t, "outrigger/reconnect/")
			p := testutil.StartProxy(t, mqttAddr)
			b := open(t, uniqueName(t, "reconnect-"), map[string]string{"url": "tcp://" + p.Addr(), "cleanSession": clean})
			pub := open(t, uniqueName(t, "pub-"), map[string]string{})
			c := newCollector()
			subscribe(t, b, topic, c.handle)
			publish(t, pub, topic, []byte("before"), nil)
			c.wait(t, 1)

			p.SetRefuse(true)
			p.Sever()
			publish(t, pub, topic, []byte("while away"), nil)
			p.SetRefuse(false)
			// A clean session loses what was published before it
			// re-subscribed; keep publishing until something arrives.
			want := "while away"
			if clean == "true" {
				want = "after"
			}
			deadline := time.Now().Add(10 * time.Second)
			for !c.has(want) {
				if time.Now().After(deadline) {
					t.Fatalf("%q not delivered after reconnecting", want)
				}
				if clean == "true" {
					publish(t, pub, topic, []byte("after"), nil)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
