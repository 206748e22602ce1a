package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/grpccodec"
	"github.com/outrigger/outrigger/internal/sleep"
)

// invokeRemote calls another sidecar with CallLocalStream, retrying while
// the peer is unavailable (daprd's built-in policy) and falling back to
// CallLocal for peers that do not stream.
//
// A retry is made only when no body byte has gone out yet: requests
// without a body, or calls that failed before the first message was sent
// (the peer is down, the handshake failed). Once body bytes may have
// reached the peer a retry could repeat a partly or fully processed call.
func (i *Invoker) invokeRemote(ctx context.Context, id string, t target, req *appchannel.Request) (*appchannel.Response, error) {
	msg, src := i.outgoing(req, t)
	pc, err := i.pooledFor(ctx, t)
	if err != nil {
		return nil, apierr.DirectInvoke(id, err)
	}
	if i.speaksPeer(pc) {
		resp, rest, err := i.invokePeer(ctx, id, pc, msg, src)
		if !errors.Is(err, errPeerUnreachable) {
			return resp, err
		}
		// Nothing went out: the gRPC way below retries as daprd does.
		src = rest
	}
	body := newOutBody(src, replayLimit)
	retries := i.builtInRetries(id)
	var wait time.Duration
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if pc, err = i.pooledFor(ctx, t); err != nil {
				body.free()
				return nil, apierr.DirectInvoke(id, err)
			}
		}
		conn := i.grpcConn(pc)
		resp, sent, err := i.callStream(ctx, conn, msg, body)
		if err == nil {
			return resp, nil
		}
		// callStream waited for its sender on Unimplemented, and no sender
		// runs when nothing was sent, so body may be inspected in those
		// cases alone.
		code := status.Code(err)
		lacks := peerLacksMethod(err)
		switch {
		case lacks && body.replayable():
			resp, err := callUnary(ctx, conn, msg, body)
			if err != nil {
				return nil, invokeErr(id, err)
			}
			return resp, nil
		case lacks:
			// The body outgrew what is kept for a resend before the refusal
			// came back.
			body.settle()
			return nil, apierr.DirectInvoke(id, fmt.Errorf("request body is larger than %d bytes, too large for a peer without streaming support: %w", replayLimit, err))
		case (code == codes.Unavailable || code == codes.Unauthenticated) && !sent && nextWait(retries, &wait):
			i.log.DebugContext(ctx, "service invocation: retrying", "app_id", id, "attempt", attempt+1, "error", err)
			conn.ResetConnectBackoff()
			if werr := sleepCtx(ctx, wait); werr != nil {
				body.free()
				return nil, apierr.DirectInvoke(id, err)
			}
			body.rewind()
		default:
			body.settle()
			return nil, invokeErr(id, err)
		}
	}
}

// proxyRefusals start the errors daprd gives for a method its internal
// gRPC server does not have: the call goes to its gRPC proxy, which
// refuses it for want of a target app id with code Unknown, not
// Unimplemented. daprd 1.9.6 says "failed to proxy request: required
// metadata dapr-app-id not found" (1.14.4 also names dapr-callee-app-id);
// daprd 1.18.3 "cannot proxy request: missing dapr-callee-app-id or
// dapr-app-id metadata".
var proxyRefusals = []string{"failed to proxy request: required metadata", "cannot proxy request: missing"}

// peerLacksMethod reports whether a call failed because the peer does not
// have the method: Unimplemented, or daprd's proxy refusal (how a daprd
// without CallLocalStream, such as 1.9.6, answers it, and how every daprd
// answers our hello).
func peerLacksMethod(err error) bool {
	s := status.Convert(err)
	switch s.Code() {
	case codes.Unimplemented:
		return true
	case codes.Unknown:
		for _, refusal := range proxyRefusals {
			if strings.HasPrefix(s.Message(), refusal) {
				return true
			}
		}
	}
	return false
}

// invokeErr maps a failed call to ERR_DIRECT_INVOKE; an access-control
// denial by the callee is 403.
func invokeErr(id string, err error) error {
	if status.Code(err) == codes.PermissionDenied {
		return apierr.DirectInvokeForbidden(id, err)
	}
	return apierr.DirectInvoke(id, err)
}

// outgoing adds the caller metadata to the request and takes the body out
// of the message (it travels as payload chunks).
func (i *Invoker) outgoing(req *appchannel.Request, t target) (*internalsv1.InternalInvokeRequest, io.Reader) {
	m := req.Message
	m.Ver = internalsv1.APIVersion_V1
	if m.Metadata == nil {
		m.Metadata = map[string]*internalsv1.ListStringValue{}
	}
	own := [ownMetadataEntries]ownMetadata{
		{hdrCallerAppID, i.cfg.AppID, replace},
		{hdrCallerNS, i.cfg.Namespace, replaceIfSet},
		{hdrCalleeAppID, t.appID, replace},
		{hdrDestinationID, t.appID, replace},
		{hdrXForwardedFor, i.cfg.HostAddress, appendIfSet},
		{hdrXForwardedHost, i.cfg.Hostname, appendIfSet},
		{hdrForwarded, i.forwarded, appendIfSet},
	}
	addOwnMetadata(m.Metadata, own[:])
	src := req.Body
	if d := m.Message.GetData(); d != nil {
		if src == nil && len(d.GetValue()) > 0 {
			src = bytes.NewReader(d.GetValue())
		}
		m.Message.Data = typeOnly(d)
	}
	return m, src
}

// ownMetadataEntries is how many entries outgoing adds to the caller's
// metadata.
const ownMetadataEntries = 7

// ownMetadata is one entry this sidecar adds to an outgoing request.
type ownMetadata struct {
	key, value string
	how        ownMetadataKind
}

// ownMetadataKind says how an own entry meets the caller's values.
type ownMetadataKind uint8

const (
	// replace: the caller's values go, so a caller cannot pose as another
	// app.
	replace ownMetadataKind = iota
	// replaceIfSet: as replace, but an empty value adds nothing (no
	// namespace outside Kubernetes).
	replaceIfSet
	// appendIfSet: after the caller's values (proxy headers); an empty
	// value adds nothing.
	appendIfSet
)

// addOwnMetadata adds the entries, all from one allocation.
func addOwnMetadata(md map[string]*internalsv1.ListStringValue, own []ownMetadata) {
	lists := make([]internalsv1.ListStringValue, len(own))
	vals := make([]string, len(own))
	for j, o := range own {
		if o.how != replace && o.value == "" {
			continue
		}
		if prev := md[o.key]; o.how == appendIfSet && prev != nil {
			prev.Values = append(prev.Values, o.value)
			continue
		}
		vals[j] = o.value
		lists[j].Values = vals[j : j+1 : j+1]
		md[o.key] = &lists[j]
	}
}

// forwardedValue is the RFC 7239 element this sidecar adds.
func forwardedValue(ip, host string) string {
	var b []byte
	add := func(k, v string) {
		if v == "" {
			return
		}
		if len(b) > 0 {
			b = append(b, ';')
		}
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, v...)
	}
	add("for", ip)
	add("by", ip)
	add("host", host)
	return string(b)
}

// typeOnly keeps an Any's type URL (needed by gRPC apps) without its
// bytes; nil when there is no type URL.
func typeOnly(a *anypb.Any) *anypb.Any {
	if a.GetTypeUrl() == "" {
		return nil
	}
	return &anypb.Any{TypeUrl: a.GetTypeUrl()}
}

// callStream makes one CallLocalStream attempt. The first message carries
// the request and the first body chunk; a sender goroutine streams the
// rest (only when there is more) while the response is awaited, so a
// callee that answers while still reading cannot deadlock us. sent
// reports whether body bytes went out.
func (i *Invoker) callStream(ctx context.Context, conn *grpc.ClientConn, msg *internalsv1.InternalInvokeRequest, body *outBody) (resp *appchannel.Response, sent bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	stream, err := internalsv1.NewServiceInvocationClient(conn).CallLocalStream(sctx, grpc.ForceCodecV2(grpccodec.Codec{}))
	if err != nil {
		cancel(nil)
		body.senderExited()
		return nil, false, err
	}
	c, err := body.next()
	if err != nil {
		cancel(err)
		body.senderExited()
		return nil, false, err
	}
	first := &internalsv1.InternalInvokeRequestStream{Request: msg}
	if len(c.data) > 0 {
		first.Payload = &commonv1.StreamPayload{Data: c.data, Seq: 0}
	}
	sendErr := stream.SendMsg(&requestStreamOut{m: first})
	putChunk(c.buf)
	sent = sendErr == nil && len(c.data) > 0
	var done chan struct{}
	switch {
	case sendErr != nil: // the stream is broken; Recv says why
		body.senderExited()
	case c.last:
		_ = stream.CloseSend()
		body.senderExited()
	case !i.trackGoroutine():
		cancel(errPoolClosed)
		body.senderExited()
	default:
		done = make(chan struct{})
		go i.sendRest(stream, body, cancel, done)
	}

	res := &internalsv1.InternalInvokeResponseStream{}
	err = stream.RecvMsg(&responseStreamIn{m: res})
	if err == nil && res.GetResponse().GetStatus() == nil {
		err = status.Error(codes.Internal, "the peer's first message carries no response status")
	}
	rb := &respBody{cancel: cancel}
	if err == nil {
		err = rb.push(res.GetPayload())
	}
	if err != nil {
		err = streamErr(sctx, err)
		cancel(err)
		if done != nil && peerLacksMethod(err) {
			<-done // the fallback needs the body back
		}
		return nil, sent, err
	}
	body.settle()
	rb.recv = func() (*commonv1.StreamPayload, error) { return rb.recvPooled(stream) }
	rb.end = func(err error) error {
		if err == io.EOF {
			cancel(nil)
			return io.EOF
		}
		err = streamErr(sctx, err)
		cancel(err)
		return err
	}
	return &appchannel.Response{Message: res.GetResponse(), Body: rb}, sent, nil
}

// trackGoroutine counts a new background goroutine for Close to wait
// for; false once Close has begun.
func (i *Invoker) trackGoroutine() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return false
	}
	i.background.Add(1)
	return true
}

// sendRest streams the body after the first chunk, then half-closes. A
// read failure cancels the call with that error as cause.
func (i *Invoker) sendRest(stream internalsv1.ServiceInvocation_CallLocalStreamClient, body *outBody, cancel context.CancelCauseFunc, done chan struct{}) {
	defer i.background.Done()
	defer close(done)
	defer body.senderExited()
	// One message reused for every chunk: gRPC has serialised it by the
	// time Send returns.
	msg := &internalsv1.InternalInvokeRequestStream{Payload: &commonv1.StreamPayload{}}
	for seq := uint64(1); ; {
		c, err := body.next()
		if err != nil {
			cancel(err)
			return
		}
		if len(c.data) > 0 {
			msg.Payload.Data, msg.Payload.Seq = c.data, seq
			err := stream.Send(msg)
			putChunk(c.buf)
			seq++
			if err != nil {
				return
			}
		}
		if c.last {
			_ = stream.CloseSend()
			return
		}
	}
}

// streamErr prefers the cause a call was cancelled with (a body read
// failure, a closed response body) over gRPC's bare "context canceled".
func streamErr(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return err
	}
	return cause
}

// errBodyClosed ends a response body closed before its end.
var errBodyClosed = errors.New("response body closed")

// respBody is the body of a remote response, read from the stream.
type respBody struct {
	payloadReader
	cancel context.CancelCauseFunc
}

// Close ends the call; unread payload is discarded.
func (r *respBody) Close() error {
	r.cancel(errBodyClosed)
	return nil
}

// callUnary is the fallback for peers without CallLocalStream: the whole
// body (bounded) goes in one CallLocal message.
func callUnary(ctx context.Context, conn *grpc.ClientConn, msg *internalsv1.InternalInvokeRequest, body *outBody) (*appchannel.Response, error) {
	data, err := body.readAll()
	if err != nil {
		return nil, err
	}
	res, err := internalsv1.NewServiceInvocationClient(conn).CallLocal(ctx, withData(msg, data))
	if err != nil {
		return nil, err
	}
	value := res.GetMessage().GetData().GetValue()
	if res.GetMessage() != nil {
		res.Message.Data = typeOnly(res.Message.Data)
	}
	return &appchannel.Response{Message: res, Body: io.NopCloser(bytes.NewReader(value))}, nil
}

// withData copies msg with data as the message's bytes.
func withData(msg *internalsv1.InternalInvokeRequest, data []byte) *internalsv1.InternalInvokeRequest {
	in := msg.GetMessage()
	return &internalsv1.InternalInvokeRequest{
		Ver:      msg.GetVer(),
		Metadata: msg.GetMetadata(),
		Actor:    msg.GetActor(),
		Message: &commonv1.InvokeRequest{
			Method:        in.GetMethod(),
			ContentType:   in.GetContentType(),
			HttpExtension: in.GetHttpExtension(),
			Data:          &anypb.Any{TypeUrl: in.GetData().GetTypeUrl(), Value: data},
		},
	}
}

// sleepCtx waits d or until ctx ends, with the cause it ended with.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if sleep.For(ctx, d) {
		return nil
	}
	return fmt.Errorf("waiting to retry: %w", context.Cause(ctx))
}
