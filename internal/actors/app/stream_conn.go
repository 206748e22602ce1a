package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/api/apierr"
)

// headerActorError marks an actor method's answer as an application error
// (what HTTP apps send as X-Daprerrorresponseheader).
const headerActorError = "x-daprerrorresponseheader"

// actorStream is one open SubscribeActorEventsAlpha1 call.
type actorStream struct {
	cfg  actors.AppConfig
	send func(*runtimev1.SubscribeActorEventsResponseAlpha1) error
	log  *slog.Logger
	// sendSlot serializes send (a gRPC stream allows one sender at a time)
	// while letting a waiting caller give up with its ctx.
	sendSlot chan struct{}
	nextID   atomic.Uint64

	mu      sync.Mutex
	pending map[string]chan *runtimev1.SubscribeActorEventsRequestAlpha1
	done    chan struct{} // closed when the stream ends
	err     error         // why it ended; set before done is closed
}

func newActorStream(cfg actors.AppConfig, send func(*runtimev1.SubscribeActorEventsResponseAlpha1) error, log *slog.Logger) *actorStream {
	return &actorStream{
		cfg:      cfg,
		send:     send,
		log:      log,
		sendSlot: make(chan struct{}, 1),
		pending:  make(map[string]chan *runtimev1.SubscribeActorEventsRequestAlpha1),
		done:     make(chan struct{}),
	}
}

// end marks the stream over; calls still waiting fail with cause. Only the
// first cause counts.
func (s *actorStream) end(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.err = cause
	close(s.done)
}

// ended returns why the stream ended, nil while it is open.
func (s *actorStream) ended() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// call sends one request and waits for the answer with the same id.
func (s *actorStream) call(ctx context.Context, build func(id string) *runtimev1.SubscribeActorEventsResponseAlpha1) (*runtimev1.SubscribeActorEventsRequestAlpha1, error) {
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	answer := make(chan *runtimev1.SubscribeActorEventsRequestAlpha1, 1)
	s.mu.Lock()
	if err := s.ended(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.pending[id] = answer
	s.mu.Unlock()
	defer s.forget(id)

	if err := s.sendMsg(ctx, build(id)); err != nil {
		return nil, err
	}
	select {
	case a := <-answer:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		// An answer that raced the end of the stream still counts.
		select {
		case a := <-answer:
			return a, nil
		default:
			return nil, s.err
		}
	}
}

func (s *actorStream) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, id)
}

// sendMsg sends m once the send slot is free, unless ctx ends or the
// stream ends first.
func (s *actorStream) sendMsg(ctx context.Context, m *runtimev1.SubscribeActorEventsResponseAlpha1) error {
	select {
	case s.sendSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return s.err
	}
	defer func() { <-s.sendSlot }()
	// The slot may have been free at the moment the stream ended.
	if err := s.ended(); err != nil {
		return err
	}
	if err := s.send(m); err != nil {
		return fmt.Errorf("sending to the app: %w", err)
	}
	return nil
}

// waitSend waits, once the stream has ended, for a send in progress to
// return, and keeps the slot so no other starts: the transport forbids
// sending after the call is over. A send blocked on a client that does
// not read gives up when ctx (the call) ends.
func (s *actorStream) waitSend(ctx context.Context) {
	select {
	case s.sendSlot <- struct{}{}:
	case <-ctx.Done():
	}
}

// readAnswers routes the app's answers until recv fails.
func (s *actorStream) readAnswers(recv func() (*runtimev1.SubscribeActorEventsRequestAlpha1, error)) error {
	for {
		m, err := recv()
		if err != nil {
			return err
		}
		s.deliver(m)
	}
}

func (s *actorStream) deliver(m *runtimev1.SubscribeActorEventsRequestAlpha1) {
	id, ok := answerID(m)
	if !ok {
		s.log.Warn("ignoring an actor stream message that answers no request", "type", fmt.Sprintf("%T", m.GetRequestType()))
		return
	}
	s.mu.Lock()
	answer, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if !ok {
		// The caller gave up (ctx ended) or the id is unknown.
		s.log.Debug("ignoring an actor stream answer nobody waits for", "id", id)
		return
	}
	answer <- m // buffered, and each id is delivered at most once
}

// answerID is the request id an answer from the app refers to.
func answerID(m *runtimev1.SubscribeActorEventsRequestAlpha1) (string, bool) {
	switch r := m.GetRequestType().(type) {
	case *runtimev1.SubscribeActorEventsRequestAlpha1_InvokeResponse:
		return r.InvokeResponse.GetId(), true
	case *runtimev1.SubscribeActorEventsRequestAlpha1_ReminderResponse:
		return r.ReminderResponse.GetId(), true
	case *runtimev1.SubscribeActorEventsRequestAlpha1_TimerResponse:
		return r.TimerResponse.GetId(), true
	case *runtimev1.SubscribeActorEventsRequestAlpha1_DeactivateResponse:
		return r.DeactivateResponse.GetId(), true
	case *runtimev1.SubscribeActorEventsRequestAlpha1_RequestFailed:
		return r.RequestFailed.GetId(), true
	}
	return "", false
}

// streamMetadata flattens the caller's headers to the stream's one value
// per key, adding the content type. The caller's API token is for its own
// sidecar and never reaches the app.
func streamMetadata(md map[string]*internalsv1.ListStringValue, contentType string) map[string]string {
	out := make(map[string]string, len(md)+1)
	for k, v := range md {
		vals := v.GetValues()
		k = strings.ToLower(k)
		if len(vals) == 0 || k == "dapr-api-token" {
			continue
		}
		out[k] = vals[0]
	}
	if contentType != "" {
		out["content-type"] = contentType
	}
	return out
}

// invokeAnswer converts invoke_response to the form an HTTP app's answer
// takes.
func invokeAnswer(r *runtimev1.SubscribeActorEventsRequestInvokeResponseAlpha1) *internalsv1.InternalInvokeResponse {
	headers := make(map[string]*internalsv1.ListStringValue, len(r.GetMetadata())+1)
	var contentType string
	for k, v := range r.GetMetadata() {
		k = strings.ToLower(k)
		headers[k] = &internalsv1.ListStringValue{Values: []string{v}}
		if k == "content-type" {
			contentType = v
		}
	}
	if r.GetError() {
		headers[headerActorError] = &internalsv1.ListStringValue{Values: []string{"true"}}
	}
	return &internalsv1.InternalInvokeResponse{
		Status:  &internalsv1.Status{Code: http.StatusOK},
		Headers: headers,
		Message: &commonv1.InvokeResponse{Data: &anypb.Any{Value: r.GetData()}, ContentType: contentType},
	}
}

// failedAnswer converts request_failed to an answer with the HTTP status
// of its gRPC code, so the runtime reads it like an HTTP app's (404: the
// method does not exist).
func failedAnswer(f *runtimev1.SubscribeActorEventsRequestFailedAlpha1) *internalsv1.InternalInvokeResponse {
	code := failedCode(f)
	return &internalsv1.InternalInvokeResponse{
		Status: &internalsv1.Status{Code: int32(apierr.HTTPStatusFromCode(code)), Message: f.GetMessage()},
		Message: &commonv1.InvokeResponse{
			Data:        &anypb.Any{Value: []byte(f.GetMessage())},
			ContentType: "text/plain; charset=utf-8",
		},
	}
}

// failedCode is request_failed's code; OK would say nothing failed, so it
// reads as Unknown.
func failedCode(f *runtimev1.SubscribeActorEventsRequestFailedAlpha1) codes.Code {
	if c := codes.Code(f.GetCode()); c != codes.OK {
		return c
	}
	return codes.Unknown
}

// failedError is request_failed for calls that answer with an error.
func failedError(f *runtimev1.SubscribeActorEventsRequestFailedAlpha1) error {
	return fmt.Errorf("error from actor service: (%s) %s", failedCode(f), f.GetMessage())
}

// fireAnswer reads the answer to a timer or reminder; the two share one
// message, so either kind is accepted.
func fireAnswer(in *runtimev1.SubscribeActorEventsRequestAlpha1) (bool, error) {
	switch r := in.GetRequestType().(type) {
	case *runtimev1.SubscribeActorEventsRequestAlpha1_TimerResponse:
		return r.TimerResponse.GetCancel(), nil
	case *runtimev1.SubscribeActorEventsRequestAlpha1_ReminderResponse:
		return r.ReminderResponse.GetCancel(), nil
	case *runtimev1.SubscribeActorEventsRequestAlpha1_RequestFailed:
		return false, failedError(r.RequestFailed)
	}
	return false, unexpectedAnswer(in)
}

func unexpectedAnswer(in *runtimev1.SubscribeActorEventsRequestAlpha1) error {
	return fmt.Errorf("app answered with an unexpected %T", in.GetRequestType())
}

// wrapData wraps a timer's or reminder's data the way daprd hands it to
// gRPC apps: a google.protobuf.BytesValue in an Any. nil stays nil.
func wrapData(data []byte) (*anypb.Any, error) {
	if data == nil {
		return nil, nil
	}
	a, err := anypb.New(wrapperspb.Bytes(data))
	if err != nil {
		return nil, fmt.Errorf("wrapping data: %w", err)
	}
	return a, nil
}
