package delivery

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// fakeStream is the client side of SubscribeTopicEventsAlpha1.
type fakeStream struct {
	out    chan *runtimev1.SubscribeTopicEventsResponseAlpha1
	in     chan *runtimev1.SubscribeTopicEventsRequestAlpha1
	closed chan struct{}
	result chan error
}

func newFakeStream() *fakeStream {
	return &fakeStream{
		out:    make(chan *runtimev1.SubscribeTopicEventsResponseAlpha1, 16),
		in:     make(chan *runtimev1.SubscribeTopicEventsRequestAlpha1),
		closed: make(chan struct{}),
		result: make(chan error, 1),
	}
}

func (s *fakeStream) send(m *runtimev1.SubscribeTopicEventsResponseAlpha1) error {
	select {
	case s.out <- m:
		return nil
	case <-s.closed:
		return io.EOF
	}
}

func (s *fakeStream) recv() (*runtimev1.SubscribeTopicEventsRequestAlpha1, error) {
	select {
	case m := <-s.in:
		return m, nil
	case <-s.closed:
		return nil, io.EOF
	}
}

// open runs Stream in the background and checks the initial response.
func (s *fakeStream) open(t *testing.T, e *Engine, initial *runtimev1.SubscribeTopicEventsRequestInitialAlpha1) {
	t.Helper()
	go func() { s.result <- e.Stream(context.Background(), initial, s.send, s.recv) }()
	t.Cleanup(s.close)
	if s.next(t).GetInitialResponse() == nil {
		t.Fatal("first message is not the initial response")
	}
}

func (s *fakeStream) next(t *testing.T) *runtimev1.SubscribeTopicEventsResponseAlpha1 {
	t.Helper()
	select {
	case m := <-s.out:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message from the stream")
		return nil
	}
}

func (s *fakeStream) ack(id string, st runtimev1.TopicEventResponse_TopicEventResponseStatus) {
	s.in <- &runtimev1.SubscribeTopicEventsRequestAlpha1{
		SubscribeTopicEventsRequestType: &runtimev1.SubscribeTopicEventsRequestAlpha1_EventProcessed{
			EventProcessed: &runtimev1.SubscribeTopicEventsRequestProcessedAlpha1{Id: id, Status: &runtimev1.TopicEventResponse{Status: st}},
		},
	}
}

func (s *fakeStream) close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

func streamEngine(t *testing.T, b *fakeBroker) *Engine {
	t.Helper()
	scopes := pubsub.Scopes{Subscribe: map[string]bool{"orders": true}}
	return startEngine(t, Config{PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", b, scopes)}})
}

func TestStreamSubscription(t *testing.T) {
	b := newFakeBroker()
	e := streamEngine(t, b)
	s := newFakeStream()
	dead := "dead"
	s.open(t, e, &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps", Topic: "orders", DeadLetterTopic: &dead, Metadata: map[string]string{"k": "v"}})

	want := []string{"ps/orders:STREAMING::dlq=dead"}
	if got := summary(e.Subscriptions()); !equalStrings(got, want) {
		t.Fatalf("subscriptions = %q, want %q", got, want)
	}
	if md := b.sub("orders").req.Metadata; md["k"] != "v" {
		t.Fatalf("subscribe metadata = %v", md)
	}

	tests := []struct {
		status  runtimev1.TopicEventResponse_TopicEventResponseStatus
		wantErr bool
		dead    int
	}{
		{runtimev1.TopicEventResponse_SUCCESS, false, 0},
		{runtimev1.TopicEventResponse_DROP, false, 1},
		{runtimev1.TopicEventResponse_RETRY, false, 2}, // retried into the dead-letter topic
	}
	for i, tc := range tests {
		id := tc.status.String()
		done := make(chan error, 1)
		go func() { done <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, map[string]any{"id": id})}) }()
		ev := s.next(t).GetEventMessage()
		if ev.GetId() != id || ev.GetTopic() != "orders" || ev.GetPubsubName() != "ps" || string(ev.GetData()) != `{"qty":1}` {
			t.Fatalf("%d: event message = %v", i, ev)
		}
		s.ack(id, tc.status)
		if err := <-done; (err != nil) != tc.wantErr {
			t.Fatalf("%s: handler error %v", id, err)
		}
		if n := len(b.publishedTo("dead")); n != tc.dead {
			t.Fatalf("%s: %d dead letters, want %d", id, n, tc.dead)
		}
	}

	// An event still waiting when the client leaves goes back to the broker.
	done := make(chan error, 1)
	go func() {
		done <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, map[string]any{"id": "pending"})})
	}()
	s.next(t)
	s.close()
	if err := <-done; err == nil {
		t.Fatal("pending event acknowledged after the stream closed")
	}
	if err := <-s.result; err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if n := len(b.publishedTo("dead")); n != 2 {
		t.Fatalf("pending event dead-lettered")
	}
	if b.subscribed("orders") {
		t.Fatal("broker subscription still open")
	}
	if n := len(e.Subscriptions()); n != 0 {
		t.Fatalf("%d subscriptions listed after the stream ended", n)
	}
}

func TestStreamRetryWithoutDeadLetter(t *testing.T) {
	b := newFakeBroker()
	e := streamEngine(t, b)
	s := newFakeStream()
	s.open(t, e, &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps", Topic: "orders"})
	done := make(chan error, 1)
	go func() {
		done <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, map[string]any{"id": "r"})})
	}()
	s.next(t)
	s.ack("r", runtimev1.TopicEventResponse_RETRY)
	if err := <-done; err == nil {
		t.Fatal("RETRY acknowledged")
	}
}

func TestStreamValidation(t *testing.T) {
	b := newFakeBroker()
	e := streamEngine(t, b)
	tests := []struct {
		name    string
		initial *runtimev1.SubscribeTopicEventsRequestInitialAlpha1
		want    error
	}{
		{"no initial request", nil, ErrInitialRequired},
		{"no pubsub", &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{Topic: "orders"}, ErrPubsubRequired},
		{"no topic", &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps"}, ErrTopicRequired},
		{"unknown pubsub", &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "nope", Topic: "orders"}, ErrPubsubNotFound},
		{"topic not allowed", &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps", Topic: "secret"}, ErrTopicForbidden},
	}
	for _, tc := range tests {
		s := newFakeStream()
		err := e.Stream(context.Background(), tc.initial, s.send, s.recv)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
	if b.subscribeCalls() != 0 {
		t.Fatal("invalid streams subscribed")
	}
}

func TestStopWaitsForStreamAcks(t *testing.T) {
	b := newFakeBroker()
	e := streamEngine(t, b)
	s := newFakeStream()
	s.open(t, e, &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps", Topic: "orders"})
	done := make(chan error, 1)
	go func() {
		done <- b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, map[string]any{"id": "x"})})
	}()
	s.next(t)

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- e.Stop(ctx)
	}()
	waitFor(t, "the stream's subscription to stop", func() bool { return !b.subscribed("orders") })
	s.ack("x", runtimev1.TopicEventResponse_SUCCESS)
	if err := <-done; err != nil {
		t.Fatalf("in-flight stream event: %v", err)
	}
	if err := <-s.result; err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := e.Stream(context.Background(), &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "ps", Topic: "orders"}, s.send, s.recv); !errors.Is(err, ErrStopped) {
		t.Fatalf("Stream after Stop: %v", err)
	}
}
