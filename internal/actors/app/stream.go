package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/actors"
)

var (
	// ErrNotConnected is returned by calls while no app has the actor
	// stream open.
	ErrNotConnected = errors.New("actor host is not connected")
	// ErrDisconnected fails calls still waiting when their stream ends.
	ErrDisconnected = errors.New("actor host disconnected before responding")
	// ErrHostClosed ends the streams when the sidecar shuts down.
	ErrHostClosed = errors.New("actor host is shutting down")
)

// StreamHost hosts the actors of a gRPC app, which opens the
// SubscribeActorEventsAlpha1 stream to the sidecar: its initial request is
// the app's actor configuration, and the sidecar then sends invoke, timer,
// reminder and deactivate requests down the stream, each with an id the
// app echoes on its answer.
//
// Several streams may be open at once (an app restarting opens its new
// stream before the old one is gone). The newest stream takes every new
// call; an older one only finishes the calls it already has. When the
// newest stream ends, the newest of the streams still open becomes current
// again; with none left the app hosts no actors until a stream arrives.
// OnConfig hooks learn about each change.
type StreamHost struct {
	log *slog.Logger

	mu      sync.Mutex
	streams []*actorStream // open streams, oldest first; the last is current
	// arrived is closed (and replaced) when a stream becomes current, waking
	// Config callers.
	arrived chan struct{}
	gen     uint64 // counts changes of the current stream
	hooks   []func(actors.AppConfig)
	closed  bool

	// notifyMu keeps hook calls in order; notified is the generation the
	// hooks last saw.
	notifyMu sync.Mutex
	notified uint64
}

var _ actors.App = (*StreamHost)(nil)

// NewStreamHost returns a host with no stream yet.
func NewStreamHost(log *slog.Logger) *StreamHost {
	if log == nil {
		log = slog.Default()
	}
	return &StreamHost{log: log, arrived: make(chan struct{})}
}

// OnConfig registers fn, called with the app's actor configuration each
// time the current stream changes: a stream arrived (its initial request)
// or the current one ended (the next open stream's configuration, or an
// empty one). Calls are in order and run on a stream's goroutine, so fn
// should be quick; it may call the host's methods.
func (h *StreamHost) OnConfig(fn func(actors.AppConfig)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, fn)
}

// Serve runs one SubscribeActorEventsAlpha1 call: initial is the first
// message's initial request, send and recv are the stream's (send is never
// called concurrently; recv is read from one goroutine that ends when recv
// fails, which the transport does once the call is over). It answers
// initial_response, routes the app's answers to the calls waiting for
// them, and returns when the app closes the stream, ctx ends or the host
// closes. Errors are gRPC statuses.
func (h *StreamHost) Serve(ctx context.Context, initial *runtimev1.SubscribeActorEventsRequestInitialAlpha1,
	send func(*runtimev1.SubscribeActorEventsResponseAlpha1) error,
	recv func() (*runtimev1.SubscribeActorEventsRequestAlpha1, error),
) error {
	if initial == nil {
		return status.Error(codes.InvalidArgument, "first message must be SubscribeActorEventsRequestInitialAlpha1")
	}
	cfg, err := configFromInitial(initial)
	if err != nil {
		return status.Error(codes.InvalidArgument, "invalid actor configuration: "+err.Error())
	}
	s := newActorStream(cfg, send, h.log)
	if err := h.open(s); err != nil {
		return err
	}
	h.log.Debug("actor stream opened", "entities", cfg.Entities)

	received := make(chan error, 1)
	go func() { received <- s.readAnswers(recv) }()
	h.notify()

	select {
	case err = <-received:
	case <-ctx.Done():
		err = ctx.Err()
	case <-s.done:
		err = s.err
	}
	h.remove(s, ErrDisconnected)
	s.waitSend(ctx)
	h.notify()
	h.log.Debug("actor stream closed", "error", err)
	return serveResult(err)
}

// open makes s the current stream and answers initial_response.
func (h *StreamHost) open(s *actorStream) error {
	// Hold the send slot until initial_response is out, so no call
	// overtakes it once the stream is current.
	s.sendSlot <- struct{}{}
	if !h.add(s) {
		return status.Error(codes.Unavailable, ErrHostClosed.Error())
	}
	err := s.send(&runtimev1.SubscribeActorEventsResponseAlpha1{
		ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_InitialResponse{
			InitialResponse: &runtimev1.SubscribeActorEventsResponseInitialAlpha1{},
		},
	})
	<-s.sendSlot
	if err != nil {
		h.remove(s, ErrDisconnected)
		h.notify()
		return err
	}
	return nil
}

// serveResult is the status Serve ends the call with: the app leaving is
// no error.
func serveResult(err error) error {
	switch {
	case errors.Is(err, ErrHostClosed):
		return status.Error(codes.Unavailable, err.Error())
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled), status.Code(err) == codes.Canceled:
		return nil
	}
	return err
}

// Close ends every stream (their pending calls fail) and refuses new ones.
func (h *StreamHost) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, s := range h.streams {
		s.end(ErrHostClosed)
	}
	close(h.arrived) // wake Config callers
}

// add makes s the current stream; false once the host is closed.
func (h *StreamHost) add(s *actorStream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.streams = append(h.streams, s)
	h.gen++
	close(h.arrived)
	h.arrived = make(chan struct{})
	return true
}

// remove drops s and fails the calls it still has.
func (h *StreamHost) remove(s *actorStream, cause error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s.end(cause)
	i := slices.Index(h.streams, s)
	if i < 0 {
		return
	}
	h.streams = slices.Delete(h.streams, i, i+1)
	if i == len(h.streams) {
		// s was current: the previous stream, if any, takes over.
		h.gen++
	}
}

// current returns the stream that takes new calls, nil when none.
func (h *StreamHost) current() *actorStream {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) == 0 {
		return nil
	}
	return h.streams[len(h.streams)-1]
}

// notify tells the hooks about the current configuration if it changed
// since they were last told. It reads the state at call time, so hooks
// never see a stale configuration even when streams come and go at once.
func (h *StreamHost) notify() {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	h.mu.Lock()
	gen, hooks := h.gen, h.hooks
	var cfg actors.AppConfig
	if n := len(h.streams); n > 0 {
		cfg = h.streams[n-1].cfg
	}
	h.mu.Unlock()
	if gen == h.notified {
		return
	}
	h.notified = gen
	for _, fn := range hooks {
		fn(cfg)
	}
}

// Config returns the current stream's configuration. Without a stream it
// waits for one, bounded by ctx; if none arrives the app hosts no actors
// (an empty configuration, no error) and OnConfig tells about a later one.
func (h *StreamHost) Config(ctx context.Context) (actors.AppConfig, error) {
	for {
		h.mu.Lock()
		if n := len(h.streams); n > 0 {
			cfg := h.streams[n-1].cfg
			h.mu.Unlock()
			return cfg, nil
		}
		arrived, closed := h.arrived, h.closed
		h.mu.Unlock()
		if closed {
			return actors.AppConfig{}, nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return actors.AppConfig{}, nil
		}
	}
}

// call sends a request built around a fresh id on the current stream and
// waits for the app's answer.
func (h *StreamHost) call(ctx context.Context, build func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1) (*runtimev1.SubscribeActorEventsRequestAlpha1, error) {
	s := h.current()
	if s == nil {
		return nil, ErrNotConnected
	}
	return s.call(ctx, build)
}

// InvokeMethod sends invoke_request. invoke_response comes back as status
// 200 with the app's metadata as headers (an answer flagged error gets
// X-Daprerrorresponseheader, as an HTTP app would send); request_failed
// comes back with the HTTP status of its gRPC code (NotFound = 404, the
// method does not exist) and its message as the body.
func (h *StreamHost) InvokeMethod(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	actor := req.GetActor()
	if actor == nil {
		return nil, errors.New("actor invocation without an actor")
	}
	msg := req.GetMessage()
	md := streamMetadata(req.GetMetadata(), msg.GetContentType())
	in, err := h.call(ctx, func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1 {
		return &runtimev1.SubscribeActorEventsResponseAlpha1{
			ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_InvokeRequest{
				InvokeRequest: &runtimev1.SubscribeActorEventsResponseInvokeRequestAlpha1{
					Id:        id,
					ActorType: actor.GetActorType(),
					ActorId:   actor.GetActorId(),
					Method:    msg.GetMethod(),
					Data:      msg.GetData().GetValue(),
					Metadata:  md,
				},
			},
		}
	})
	if err != nil {
		return nil, fmt.Errorf("invoking actor method: %w", err)
	}
	switch r := in.GetRequestType().(type) {
	case *runtimev1.SubscribeActorEventsRequestAlpha1_InvokeResponse:
		return invokeAnswer(r.InvokeResponse), nil
	case *runtimev1.SubscribeActorEventsRequestAlpha1_RequestFailed:
		return failedAnswer(r.RequestFailed), nil
	}
	return nil, fmt.Errorf("invoking actor method: %w", unexpectedAnswer(in))
}

// Timer sends timer_request.
func (h *StreamHost) Timer(ctx context.Context, actorType, actorID, name string, call actors.TimerCall) (bool, error) {
	data, err := wrapData(call.Data)
	if err != nil {
		return false, fmt.Errorf("timer %s: %w", name, err)
	}
	in, err := h.call(ctx, func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1 {
		return &runtimev1.SubscribeActorEventsResponseAlpha1{
			ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_TimerRequest{
				TimerRequest: &runtimev1.SubscribeActorEventsResponseTimerRequestAlpha1{
					Id: id, ActorType: actorType, ActorId: actorID, Name: name,
					DueTime: call.DueTime, Period: call.Period, Callback: call.Callback, Data: data,
				},
			},
		}
	})
	if err != nil {
		return false, fmt.Errorf("delivering timer %s: %w", name, err)
	}
	return fireAnswer(in)
}

// Reminder sends reminder_request.
func (h *StreamHost) Reminder(ctx context.Context, actorType, actorID, name string, call actors.ReminderCall) (bool, error) {
	data, err := wrapData(call.Data)
	if err != nil {
		return false, fmt.Errorf("reminder %s: %w", name, err)
	}
	in, err := h.call(ctx, func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1 {
		return &runtimev1.SubscribeActorEventsResponseAlpha1{
			ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_ReminderRequest{
				ReminderRequest: &runtimev1.SubscribeActorEventsResponseReminderRequestAlpha1{
					Id: id, ActorType: actorType, ActorId: actorID, Name: name,
					DueTime: call.DueTime, Period: call.Period, Data: data,
				},
			},
		}
	})
	if err != nil {
		return false, fmt.Errorf("delivering reminder %s: %w", name, err)
	}
	return fireAnswer(in)
}

// Deactivate sends deactivate_request.
func (h *StreamHost) Deactivate(ctx context.Context, actorType, actorID string) error {
	in, err := h.call(ctx, func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1 {
		return &runtimev1.SubscribeActorEventsResponseAlpha1{
			ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_DeactivateRequest{
				DeactivateRequest: &runtimev1.SubscribeActorEventsResponseDeactivateRequestAlpha1{
					Id: id, ActorType: actorType, ActorId: actorID,
				},
			},
		}
	})
	if err != nil {
		return fmt.Errorf("deactivating actor: %w", err)
	}
	switch r := in.GetRequestType().(type) {
	case *runtimev1.SubscribeActorEventsRequestAlpha1_DeactivateResponse:
		return nil
	case *runtimev1.SubscribeActorEventsRequestAlpha1_RequestFailed:
		return failedError(r.RequestFailed)
	}
	return fmt.Errorf("deactivating actor: %w", unexpectedAnswer(in))
}
