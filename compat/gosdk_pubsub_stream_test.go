package compat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"github.com/dapr/go-sdk/service/common"

	"github.com/outrigger/outrigger/compat/harness"
)

// streamEnv is a sidecar without an app: events reach the test only
// through streaming subscriptions (SubscribeTopicEventsAlpha1).
type streamEnv struct {
	c      dapr.Client
	raw    runtimev1.DaprClient
	appID  string
	prefix string
}

// TestGoSDKPubSubStreaming subscribes with the Go SDK's streaming API
// (Subscribe, SubscribeWithHandler) on a sidecar with no app port and
// publishes through the same sidecar.
func TestGoSDKPubSubStreaming(t *testing.T) {
	prefix := topicPrefix(t)
	useRedis(t, prefix)
	appID := "ps-stream-" + uniq(t)
	sc := harness.Start(t, harness.Options{AppID: appID, Components: []string{localPubsub(appID)}})
	e := &streamEnv{c: goClient(t, sc), raw: rawClient(t, sc), appID: appID, prefix: prefix}

	t.Run("receive", e.receive)
	t.Run("retry", e.retry)
	t.Run("drop-dead-letter", e.deadLetter)
	t.Run("handler", e.handler)
	t.Run("unknown-pubsub", e.unknownPubsub)
}

// subscribe opens a streaming subscription that lasts until the test ends.
func (e *streamEnv) subscribe(t *testing.T, topic string) *dapr.Subscription {
	t.Helper()
	return e.subscribeWith(t, dapr.SubscriptionOptions{PubsubName: pubsubName, Topic: topic})
}

func (e *streamEnv) subscribeWith(t *testing.T, opts dapr.SubscriptionOptions) *dapr.Subscription {
	t.Helper()
	topic := opts.Topic
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	sub, err := e.c.Subscribe(ctx, opts)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// receive is Subscription.Receive with the test's failure handling.
func receive(t *testing.T, sub *dapr.Subscription) *dapr.SubscriptionMessage {
	t.Helper()
	msg, err := sub.Receive()
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	return msg
}

func (e *streamEnv) receive(t *testing.T) {
	topic := e.prefix + "stream"
	sub := e.subscribe(t, topic)
	subs := waitMetadataSubs(t, e.raw, topic, 1)
	if subs[0].GetType() != runtimev1.PubsubSubscriptionType_STREAMING || subs[0].GetPubsubName() != pubsubName {
		t.Errorf("GetMetadata subscription of %s: type %v pubsub %q, want STREAMING %q", topic, subs[0].GetType(), subs[0].GetPubsubName(), pubsubName)
	}

	m := uniq(t)
	jsonData := map[string]any{"marker": "json-" + m, "qty": 2.0}
	text := "stream text " + m
	if err := e.c.PublishEvent(callCtx(t), pubsubName, topic, order{Marker: "json-" + m, Qty: 2}); err != nil {
		t.Fatalf("PublishEvent(struct): %v", err)
	}
	if err := e.c.PublishEvent(callCtx(t), pubsubName, topic, text, dapr.PublishEventWithContentType("text/plain")); err != nil {
		t.Fatalf("PublishEvent(text): %v", err)
	}
	want := map[string]wantEvent{
		"application/json": {source: e.appID, typ: publisherType, contentType: "application/json", topic: topic, data: jsonData, rawJSON: jsonData},
		"text/plain":       {source: e.appID, typ: publisherType, contentType: "text/plain", topic: topic, data: text, raw: []byte(text)},
	}
	// The broker may hand the two over in either order.
	for range 2 {
		msg := receive(t, sub)
		w, ok := want[msg.DataContentType]
		if !ok {
			t.Fatalf("received unexpected event %+v", msg.TopicEvent)
		}
		delete(want, msg.DataContentType)
		checkEvent(t, "streamed "+msg.DataContentType+" event", msg.TopicEvent, w)
		if err := msg.Success(); err != nil {
			t.Errorf("Success(): %v", err)
		}
	}

	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Closing the stream ends the subscription.
	waitMetadataSubs(t, e.raw, topic, 0)
}

// retry answers RETRY to the first delivery and expects the same event
// again.
func (e *streamEnv) retry(t *testing.T) {
	topic := e.prefix + "stream-retry"
	sub := e.subscribe(t, topic)
	m := "retry-" + uniq(t)
	if err := e.c.PublishEvent(callCtx(t), pubsubName, topic, order{Marker: m}); err != nil {
		t.Fatalf("PublishEvent: %v", err)
	}
	first := receive(t, sub)
	if err := first.Retry(); err != nil {
		t.Fatalf("Retry(): %v", err)
	}
	again := receive(t, sub)
	if again.ID != first.ID || string(again.RawData) != string(first.RawData) {
		t.Errorf("after RETRY received id %q data %q, want id %q data %q again", again.ID, again.RawData, first.ID, first.RawData)
	}
	if err := again.Success(); err != nil {
		t.Errorf("Success(): %v", err)
	}
}

// deadLetter answers DROP on a subscription with a dead letter topic: the
// event arrives on a second streaming subscription to that topic.
func (e *streamEnv) deadLetter(t *testing.T) {
	topic, dead := e.prefix+"stream-drop", e.prefix+"stream-dead"
	deadSub := e.subscribe(t, dead)
	sub := e.subscribeWith(t, dapr.SubscriptionOptions{PubsubName: pubsubName, Topic: topic, DeadLetterTopic: &dead})
	if dl := waitMetadataSubs(t, e.raw, topic, 1)[0].GetDeadLetterTopic(); dl != dead {
		t.Errorf("GetMetadata dead letter topic of %s = %q, want %q", topic, dl, dead)
	}
	m := "drop-" + uniq(t)
	if err := e.c.PublishEvent(callCtx(t), pubsubName, topic, order{Marker: m}); err != nil {
		t.Fatalf("PublishEvent: %v", err)
	}
	msg := receive(t, sub)
	if err := msg.Drop(); err != nil {
		t.Fatalf("Drop(): %v", err)
	}
	got := receive(t, deadSub)
	data := map[string]any{"marker": m, "qty": 0.0}
	checkEvent(t, "dead letter", got.TopicEvent, wantEvent{
		id: msg.ID, source: e.appID, typ: publisherType, contentType: "application/json",
		topic: dead, data: data, rawJSON: data,
	})
	if err := got.Success(); err != nil {
		t.Errorf("Success(): %v", err)
	}
}

// handler uses SubscribeWithHandler: RETRY for the first delivery of one
// event, SUCCESS otherwise; stopping it ends the subscription.
func (e *streamEnv) handler(t *testing.T) {
	topic := e.prefix + "stream-handler"
	var mu sync.Mutex
	seen := map[string]int{} // marker -> deliveries
	m := uniq(t)
	handle := func(ev *common.TopicEvent) common.SubscriptionResponseStatus {
		data, _ := ev.Data.(map[string]any)
		marker, _ := data["marker"].(string)
		mu.Lock()
		defer mu.Unlock()
		seen[marker]++
		if marker == "retry-"+m && seen[marker] == 1 {
			return common.SubscriptionResponseStatusRetry
		}
		return common.SubscriptionResponseStatusSuccess
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stop, err := e.c.SubscribeWithHandler(ctx, dapr.SubscriptionOptions{PubsubName: pubsubName, Topic: topic}, handle)
	if err != nil {
		t.Fatalf("SubscribeWithHandler(%s): %v", topic, err)
	}
	markers := []string{"a-" + m, "b-" + m, "retry-" + m}
	for _, mk := range markers {
		if err := e.c.PublishEvent(callCtx(t), pubsubName, topic, order{Marker: mk}); err != nil {
			t.Fatalf("PublishEvent(%s): %v", mk, err)
		}
	}
	want := fmt.Sprint(map[string]int{"a-" + m: 1, "b-" + m: 1, "retry-" + m: 2})
	counts := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(seen) // fmt prints maps sorted by key
	}
	for deadline := time.Now().Add(deliveryTimeout); counts() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("handler deliveries %s after %s, want %s", counts(), deliveryTimeout, want)
		}
	}
	time.Sleep(redeliveryQuiet)
	if got := counts(); got != want {
		t.Errorf("handler deliveries %s, want %s (acknowledged events come once)", got, want)
	}

	if err := stop(); err != nil {
		t.Fatalf("stopping the handler subscription: %v", err)
	}
	waitMetadataSubs(t, e.raw, topic, 0)
}

// unknownPubsub: the sidecar refuses the initial request, and Subscribe
// returns the error.
func (e *streamEnv) unknownPubsub(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sub, err := e.c.Subscribe(ctx, dapr.SubscriptionOptions{PubsubName: "no-such-pubsub", Topic: e.prefix + "nowhere"})
	if err == nil {
		sub.Close()
		t.Fatal("Subscribe(unknown pubsub) succeeded, want an error")
	}
	t.Logf("Subscribe(unknown pubsub): %v", err)
}
