package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// Errors of Stream, for the API layer to map to Dapr's codes.
var (
	ErrInitialRequired = errors.New("initial request is required")
	ErrPubsubRequired  = errors.New("pubsubName is required")
	ErrTopicRequired   = errors.New("topic is required")
	ErrPubsubNotFound  = errors.New("pubsub not found")
	ErrTopicForbidden  = errors.New("topic is not allowed for this app")
	ErrStopped         = errors.New("pubsub delivery is stopped")
)

// Stream serves one SubscribeTopicEventsAlpha1 call: it subscribes to the
// topic, sends initial_response, then one event_message per message and
// settles each message when the client's event_processed for its id
// arrives. It returns when the client goes away, ctx ends or the engine
// stops (after the events in flight are answered). No app channel is
// needed. send is never called concurrently; recv is read from one
// goroutine that ends when recv fails (the transport makes it fail once
// the call is over).
func (e *Engine) Stream(ctx context.Context, initial *runtimev1.SubscribeTopicEventsRequestInitialAlpha1,
	send func(*runtimev1.SubscribeTopicEventsResponseAlpha1) error,
	recv func() (*runtimev1.SubscribeTopicEventsRequestAlpha1, error),
) error {
	comp, s, err := e.streamSubscription(initial)
	if err != nil {
		return err
	}
	if !e.addStream(s) {
		return ErrStopped
	}
	defer e.removeStream(s)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := newStream(send)
	defer st.close()
	if err := st.open(ctx, comp, s, e.handler(comp, s, st.deliver)); err != nil {
		return err
	}

	acks := make(chan error, 1)
	go func() { acks <- st.readAcks(recv) }()
	select {
	case err = <-acks:
	case <-ctx.Done():
	case <-e.quit:
		cancel() // no new messages; let the client answer those in flight
		err = st.drain(acks, e.life)
	}
	if err == io.EOF || status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// streamSubscription validates the initial request.
func (e *Engine) streamSubscription(in *runtimev1.SubscribeTopicEventsRequestInitialAlpha1) (*pubsub.Component, *subscription, error) {
	switch {
	case in == nil:
		return nil, nil, ErrInitialRequired
	case in.GetPubsubName() == "":
		return nil, nil, ErrPubsubRequired
	case in.GetTopic() == "":
		return nil, nil, ErrTopicRequired
	}
	comp := e.component(in.GetPubsubName())
	if comp == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrPubsubNotFound, in.GetPubsubName())
	}
	if !comp.Scopes.CanSubscribe(in.GetTopic()) {
		return nil, nil, fmt.Errorf("%w: topic %s on pubsub %s", ErrTopicForbidden, in.GetTopic(), comp.Name)
	}
	s := &subscription{
		kind:       runtimev1.PubsubSubscriptionType_STREAMING,
		pubsub:     comp.Name,
		topic:      in.GetTopic(),
		rules:      []rule{{}},
		deadLetter: in.GetDeadLetterTopic(),
		metadata:   in.GetMetadata(),
		raw:        truthy(in.GetMetadata()["rawPayload"]),
	}
	return comp, s, nil
}

func (e *Engine) addStream(s *subscription) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return false
	}
	e.streams = append(e.streams, s)
	return true
}

func (e *Engine) removeStream(s *subscription) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i := slices.Index(e.streams, s); i >= 0 {
		e.streams = slices.Delete(e.streams, i, i+1)
	}
}

// stream is one client's streaming subscription.
type stream struct {
	sendMu sync.Mutex
	send   func(*runtimev1.SubscribeTopicEventsResponseAlpha1) error

	mu       sync.Mutex
	pending  map[string]chan *runtimev1.TopicEventResponse
	closed   bool
	draining bool
	idle     chan struct{} // closed when draining and nothing is pending
	done     chan struct{} // closed by close
}

func newStream(send func(*runtimev1.SubscribeTopicEventsResponseAlpha1) error) *stream {
	return &stream{
		send:    send,
		pending: make(map[string]chan *runtimev1.TopicEventResponse),
		idle:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// open subscribes and sends initial_response; holding the send lock keeps
// any event from overtaking it.
func (st *stream) open(ctx context.Context, comp *pubsub.Component, s *subscription, h pubsub.Handler) error {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	req := pubsub.SubscribeRequest{Topic: comp.Topic(s.topic), Metadata: s.metadata}
	if err := comp.Broker.Subscribe(ctx, req, h); err != nil {
		return fmt.Errorf("subscribing to topic %s on pubsub %s: %w", s.topic, s.pubsub, err)
	}
	initial := &runtimev1.SubscribeTopicEventsResponseAlpha1{
		SubscribeTopicEventsResponseType: &runtimev1.SubscribeTopicEventsResponseAlpha1_InitialResponse{
			InitialResponse: &runtimev1.SubscribeTopicEventsResponseInitialAlpha1{},
		},
	}
	if err := st.send(initial); err != nil {
		return fmt.Errorf("sending the initial response: %w", err)
	}
	return nil
}

// deliver sends one event and waits for the client's verdict.
func (st *stream) deliver(ctx context.Context, d *delivery) (outcome, error) {
	req := topicEventRequest(d)
	if req.Id == "" {
		req.Id = uuid.NewString()
	}
	answer, err := st.register(req.Id)
	if err != nil {
		return outcomeRetry, err
	}
	defer st.unregister(req.Id)
	msg := &runtimev1.SubscribeTopicEventsResponseAlpha1{
		SubscribeTopicEventsResponseType: &runtimev1.SubscribeTopicEventsResponseAlpha1_EventMessage{EventMessage: req},
	}
	st.sendMu.Lock()
	err = st.send(msg)
	st.sendMu.Unlock()
	if err != nil {
		return outcomeRetry, fmt.Errorf("sending event %s to the stream: %w (%w)", req.Id, errAborted, err)
	}
	select {
	case resp := <-answer:
		return statusOutcome(resp.GetStatus())
	case <-st.done:
		return outcomeRetry, fmt.Errorf("stream closed before event %s was processed: %w", req.Id, errAborted)
	case <-ctx.Done():
		return outcomeRetry, fmt.Errorf("waiting for event %s to be processed: %w", req.Id, ctx.Err())
	}
}

func (st *stream) register(id string) (chan *runtimev1.TopicEventResponse, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, fmt.Errorf("stream closed: %w", errAborted)
	}
	if _, dup := st.pending[id]; dup {
		return nil, fmt.Errorf("event %s is already in flight on this stream", id)
	}
	ch := make(chan *runtimev1.TopicEventResponse, 1)
	st.pending[id] = ch
	return ch, nil
}

func (st *stream) unregister(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.pending, id)
	st.checkIdle()
}

// checkIdle closes idle once draining has nothing left; st.mu is held.
func (st *stream) checkIdle() {
	if st.draining && len(st.pending) == 0 {
		select {
		case <-st.idle:
		default:
			close(st.idle)
		}
	}
}

// readAcks routes event_processed messages to the waiting deliveries
// until recv fails.
func (st *stream) readAcks(recv func() (*runtimev1.SubscribeTopicEventsRequestAlpha1, error)) error {
	for {
		req, err := recv()
		if err != nil {
			return err
		}
		ep := req.GetEventProcessed()
		if ep == nil {
			continue // a repeated initial request changes nothing
		}
		st.mu.Lock()
		ch := st.pending[ep.GetId()]
		delete(st.pending, ep.GetId())
		st.mu.Unlock()
		if ch != nil {
			ch <- ep.GetStatus() // buffered, answered once
		}
	}
}

// drain waits until the events in flight are answered, the client goes
// away, or hard (the engine's deadline) ends.
func (st *stream) drain(acks <-chan error, hard context.Context) error {
	st.mu.Lock()
	st.draining = true
	st.checkIdle()
	st.mu.Unlock()
	select {
	case <-st.idle:
		return nil
	case err := <-acks:
		return err
	case <-hard.Done():
		return nil
	}
}

// close aborts the deliveries still waiting.
func (st *stream) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.closed {
		st.closed = true
		close(st.done)
	}
}
