package grpcproxy

// Resiliency for proxied calls, as daprd applies it: the target app's
// policy (apps.<id>, else the default app policies) covers calls the
// Caller side forwards to another app's sidecar; calls into the local app
// (self calls, the Callee side) run without one.
//
// The proxy never decodes messages, so it cannot tell a unary call from a
// stream. Like daprd it relies on the caller's dapr-stream metadata:
//
//   - dapr-stream truthy: the policy covers opening the upstream call only
//     (the "initial handshake": routing and creating the stream), retried,
//     timed and counted by the breaker as one operation. Once open, the
//     stream runs outside the policy: its timeout does not cut it, and a
//     stream that breaks is not re-established.
//   - otherwise, with retries: the call is one operation, timed as a whole
//     and replayed on failure. Replaying needs the request, so at most one
//     request message is accepted; a second one fails the call with
//     FailedPrecondition (daprd's message). Once a response message has
//     been relayed the answer is final: a retry would repeat it.
//   - otherwise, without retries: the call is relayed as it is, timed as a
//     whole, and its outcome counted by the breaker.

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// keyStream is the metadata key that marks a proxied call as a stream.
const keyStream = "dapr-stream"

// errRetryOnStream is daprd's answer to a second request message on a call
// that a retry policy may replay.
var errRetryOnStream = status.Error(codes.FailedPrecondition, "cannot use resiliency policies with retries on streaming RPCs")

// policyFor is the resiliency policy of a call to target; the zero policy
// for calls into the local app and on the Callee side.
func (p *proxy) policyFor(target string, local bool) resiliency.Policy {
	if local || p.cfg.Side != Caller || p.cfg.Policy == nil || target == "" {
		return resiliency.Policy{}
	}
	return p.cfg.Policy(target)
}

// isStream reports whether the caller marked the call as a stream.
func isStream(md metadata.MD) bool {
	v := md.Get(keyStream)
	return len(v) > 0 && resources.IsTruthy(v[0])
}

// proxied is one call forwarded under a resiliency policy.
type proxied struct {
	p      *proxy
	in     grpc.ServerStream
	method string
	md     metadata.MD // incoming metadata, to route again on a retry
	// conn and out are the route found before the policy ran.
	conn     *grpc.ClientConn
	out      metadata.MD
	attempts int
}

// next returns the route of the next attempt: the first attempt uses the
// route already found, a retry resolves the target again (its sidecar may
// have moved).
func (c *proxied) next(ctx context.Context) (*grpc.ClientConn, metadata.MD, error) {
	c.attempts++
	if c.attempts == 1 {
		return c.conn, c.out, nil
	}
	conn, out, _, err := c.p.route(ctx, c.md)
	if err != nil {
		return nil, nil, coded(err)
	}
	return conn, out, nil
}

// whole relays the call as one operation of the policy (no retries).
func (c *proxied) whole(pol resiliency.Policy) error {
	err := pol.Run(c.in.Context(), func(ctx context.Context) error {
		conn, out, err := c.next(ctx)
		if err != nil {
			return err
		}
		return forward(ctx, c.in, conn, c.method, out)
	})
	return clientStatus(err)
}

// stream opens the upstream call under the policy, then relays it outside
// the policy.
func (c *proxied) stream(pol resiliency.Policy) error {
	call := c.in.Context()
	var up grpc.ClientStream
	var cancel context.CancelFunc
	err := pol.Run(call, func(ctx context.Context) error {
		conn, out, err := c.next(ctx)
		if err != nil {
			return err
		}
		up, cancel, err = open(ctx, call, conn, c.method, out)
		return coded(err)
	})
	if err != nil {
		return clientStatus(err)
	}
	defer cancel()
	return relay(c.in, up, cancel)
}

// open creates the upstream call on a child of the client's call, so it
// may outlive the attempt, while the attempt's context (its timeout)
// bounds the opening only.
func open(attempt, call context.Context, conn *grpc.ClientConn, method string, md metadata.MD) (grpc.ClientStream, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(call)
	stop := context.AfterFunc(attempt, cancel)
	up, err := newUpstream(ctx, conn, method, md)
	if !stop() {
		// The attempt ended while opening and cancelled the call.
		cancel()
		if err == nil {
			err = status.FromContextError(attempt.Err()).Err()
		}
		return nil, nil, err
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return up, cancel, nil
}

// replay runs a call that the policy may retry: the request is read once
// and sent on every attempt, and the upstream's response header is held
// back until its first response message, so a failed attempt leaves no
// trace on the client.
func (c *proxied) replay(pol resiliency.Policy) error {
	r := &replayed{proxied: c, req: readRequest(c.in)}
	err := pol.Run(c.in.Context(), r.attempt)
	if err == nil {
		return nil
	}
	r.finish(err)
	return clientStatus(err)
}

// replayed is the state of a replayed call across its attempts. Attempts
// run one after the other on the handler's goroutine.
type replayed struct {
	*proxied
	req *request
	// header and trailer are the current attempt's.
	header, trailer metadata.MD
	// answered is set once a response message has gone to the client: the
	// call can no longer be retried.
	answered bool
}

// attempt is one try of the call.
func (r *replayed) attempt(ctx context.Context) error {
	if r.answered {
		// Only after an attempt that answered and then timed out: the
		// policy reports the timeout, which a retry would hide.
		return resiliency.Permanent(context.DeadlineExceeded)
	}
	r.header, r.trailer = nil, nil
	conn, out, err := r.next(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	up, err := newUpstream(ctx, conn, r.method, out)
	if err != nil {
		return coded(err)
	}
	sent := make(chan error, 1)
	go func() {
		err := r.req.sendTo(ctx, up)
		if err != nil {
			cancel() // the upstream call cannot complete
		}
		sent <- err
	}()
	err = r.receive(up)
	cancel()
	if sErr := <-sent; sErr != nil {
		return resiliency.Permanent(sErr)
	}
	return r.outcome(up, err)
}

// receive relays the upstream's response messages, sending the held
// header before the first one. It returns io.EOF when the upstream ended
// with OK, its status otherwise, or a downstreamError.
func (r *replayed) receive(up grpc.ClientStream) error {
	if md, err := up.Header(); err == nil {
		r.header = md // nil for a trailers-only answer
	}
	for {
		f := &frame{}
		if err := up.RecvMsg(f); err != nil {
			return err
		}
		if !r.answered {
			r.answered = true
			if err := r.setHeader(); err != nil {
				return downstreamError{err}
			}
		}
		if err := r.in.SendMsg(f); err != nil {
			return downstreamError{err}
		}
	}
}

// outcome turns how an attempt ended into the policy's terms: nil, a
// retriable coded status, or a permanent error.
func (r *replayed) outcome(up grpc.ClientStream, err error) error {
	var dErr downstreamError
	if errors.As(err, &dErr) {
		return resiliency.Permanent(clientError(dErr.err))
	}
	r.trailer = up.Trailer()
	switch {
	case errors.Is(err, io.EOF):
		r.in.SetTrailer(r.trailer)
		if r.answered {
			return nil // the header went out with the first message
		}
		if err := r.setHeader(); err != nil {
			return resiliency.Permanent(clientError(err))
		}
		return nil
	case r.answered:
		r.in.SetTrailer(r.trailer)
		return resiliency.Permanent(err)
	}
	return coded(err)
}

// finish passes on the last attempt's header and trailer with its status,
// as the upstream sent them, unless part of an answer already went out or
// the breaker refused the last attempt.
func (r *replayed) finish(err error) {
	if r.answered || errors.Is(err, resiliency.ErrCircuitOpen) || errors.Is(err, resiliency.ErrTooManyRequests) {
		return
	}
	_ = r.setHeader()
	if r.trailer != nil {
		r.in.SetTrailer(r.trailer)
	}
}

// setHeader passes the current attempt's header on to the client.
func (r *replayed) setHeader() error {
	if r.header == nil {
		return nil
	}
	return r.in.SetHeader(r.header)
}

// request is the client's side of a replayed call: at most one message,
// read once by its own goroutine and sent on every attempt. The reader is
// not waited for: it may sit in RecvMsg until the client half-closes, and
// grpc releases it when the handler returns.
type request struct {
	first chan struct{} // closed once msg is known
	end   chan struct{} // closed once the client half-closed, failed or sent more
	msg   *frame        // nil when the client sent none
	err   error         // set before end closes: nil on half-close
}

func readRequest(in grpc.ServerStream) *request {
	r := &request{first: make(chan struct{}), end: make(chan struct{})}
	go r.read(in)
	return r
}

func (r *request) read(in grpc.ServerStream) {
	defer close(r.end)
	f := &frame{}
	err := in.RecvMsg(f)
	if err == nil {
		r.msg = f
	}
	close(r.first)
	if err == nil {
		// The request is complete only at half-close; anything else
		// makes it a stream that cannot be replayed.
		if err = in.RecvMsg(&frame{}); err == nil {
			err = errRetryOnStream
		}
	}
	if !errors.Is(err, io.EOF) {
		r.err = err
	}
}

// sendTo sends the request on up as soon as each part is known: the
// message, then the half-close. It returns nil when ctx ends first or the
// upstream stops accepting (its status then comes from RecvMsg), and the
// error that makes the call fail otherwise.
func (r *request) sendTo(ctx context.Context, up grpc.ClientStream) error {
	select {
	case <-r.first:
	case <-ctx.Done():
		return nil
	}
	if r.msg != nil {
		if err := up.SendMsg(r.msg); err != nil {
			return nil
		}
	}
	select {
	case <-r.end:
	case <-ctx.Done():
		return nil
	}
	switch {
	case errors.Is(r.err, errRetryOnStream):
		return r.err
	case r.err != nil:
		return clientError(r.err)
	}
	_ = up.CloseSend() // always nil in grpc-go
	return nil
}

// coded marks a gRPC status error with its code, so retry matching
// (gRPCStatusCodes) applies to it.
func coded(err error) error {
	if err == nil {
		return nil
	}
	if s, ok := status.FromError(err); ok {
		return resiliency.GRPCStatusError(int(s.Code()), err)
	}
	return err
}

// clientStatus is the status the client gets for the policy's final
// error: the upstream's own status, DeadlineExceeded for a policy
// timeout, and Unknown for anything else (a breaker refusal), as daprd
// returns those as plain errors.
func clientStatus(err error) error {
	if err == nil {
		return nil
	}
	var se *resiliency.StatusError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}
