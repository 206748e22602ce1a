package invoke

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The peer protocol: a lighter transport for service invocation between
// two Outrigger sidecars, next to Dapr's internal gRPC API on the same
// port (see package protosplit).
//
// Why: on a small call, the HTTP/2 machinery of gRPC hands the call
// between goroutines four times per hop (writer and reader loops on both
// sides) and frames it three ways; measured, that was a sixth of both
// sidecars' CPU and about 0.1 ms of the latency two sidecars add. Here a
// call is one HTTP/1.1 exchange on a pooled connection, written and read
// by the calling goroutine.
//
// The wire form reuses Dapr's messages, so nothing about a call is lost:
//
//	POST /outrigger.internal.v1/invoke HTTP/1.1
//	Content-Type: application/x-outrigger-invoke
//	Outrigger-Timeout: <nanoseconds left of the caller's deadline>
//	Traceparent, Tracestate: the caller's span
//
//	body: 4-byte big-endian length, an InternalInvokeRequestStream with the
//	request (no payload), then the request body's bytes as they are.
//
// The answer is 200 with the same content type and an
// InternalInvokeResponseStream head before the app's response body, or a
// failure before the app answered: peerStatusType with a google.rpc.Status
// (the gRPC status the internal API would have returned). A response cut
// off after its head ends the connection, so the caller sees it short.
//
// A sidecar finds out whether a peer speaks this with one gRPC call per
// connection (peerHelloMethod): Dapr's sidecars refuse it (Unimplemented,
// or their gRPC proxy's refusal, see peerLacksMethod) and keep being
// called over gRPC. The answer may name a local socket serving the same
// protocol, used when the caller is on the same host (peerlocal.go).
// Without plaintext between sidecars (mTLS) the protocol is not used.
const (
	peerPath        = "/outrigger.internal.v1/invoke"
	peerInvokeType  = "application/x-outrigger-invoke"
	peerStatusType  = "application/x-outrigger-status"
	peerTimeout     = "Outrigger-Timeout"
	peerHelloMethod = "/outrigger.internal.v1.Peer/Hello"
)

// HTTP header values of the peer protocol, shared by every call: net/http
// only reads them (read-only; a capacity of one makes any append copy).
// An empty User-Agent keeps net/http from sending its default, and a nil
// Date keeps the server from adding one: neither side reads them, and
// each would be one more header to write and parse on every call.
var (
	peerInvokeTypeValue = []string{peerInvokeType}
	peerStatusTypeValue = []string{peerStatusType}
	noUserAgent         = []string{""}
)

// setPeerAnswerType sets the answer's content type and leaves out Date.
func setPeerAnswerType(h http.Header, contentType []string) {
	h["Content-Type"] = contentType
	h["Date"] = nil
}

// peerHeadLimit bounds an encoded head (request or response metadata).
const peerHeadLimit = 1 << 20

// RegisterPeerHello tells callers on the internal gRPC server that this
// port also speaks the peer protocol, and names the local socket that
// serves it too ("" for none; see peerlocal.go). The answer is a
// StringValue: callers that expect Empty, as older Outrigger sidecars do,
// skip its field.
func RegisterPeerHello(s *grpc.Server, localSocket string) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "outrigger.internal.v1.Peer",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Hello",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := &emptypb.Empty{}
				if err := dec(in); err != nil {
					return nil, err
				}
				hello := func(context.Context, any) (any, error) { return wrapperspb.String(localSocket), nil }
				if interceptor == nil {
					return hello(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: peerHelloMethod}, hello)
			},
		}},
	}, struct{}{})
}

// framedHead is a head with its length prefix, ready to send, with room
// for extra bytes after it (the body, when it goes in the same write).
func framedHead(p streamParts, extra int) ([]byte, error) {
	e, err := p.encoder()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 4, 4+e.total+extra)
	binary.BigEndian.PutUint32(b, uint32(e.total))
	return e.append(b)
}

// readHead reads a length-prefixed head from r.
func readHead(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, fmt.Errorf("reading the head's length: %w", err)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > peerHeadLimit {
		return nil, fmt.Errorf("a head of %d bytes is over the limit of %d", size, peerHeadLimit)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("reading the head: %w", noEOF(err))
	}
	return b, nil
}

// noEOF turns a clean EOF inside a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// decodeRequestHead decodes a request head.
func decodeRequestHead(b []byte) (*internalsv1.InternalInvokeRequest, error) {
	first := &internalsv1.InternalInvokeRequestStream{}
	if err := (&requestStreamIn{m: first}).UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(b)}); err != nil {
		return nil, err
	}
	if first.GetPayload() != nil {
		return nil, errors.New("the request head carries a payload")
	}
	return first.GetRequest(), nil
}

// decodeResponseHead decodes a response head.
func decodeResponseHead(b []byte) (*internalsv1.InternalInvokeResponse, error) {
	first := &internalsv1.InternalInvokeResponseStream{}
	if err := (&responseStreamIn{m: first}).UnmarshalBuffer(mem.BufferSlice{mem.SliceBuffer(b)}); err != nil {
		return nil, err
	}
	if first.GetResponse() == nil || first.GetPayload() != nil {
		return nil, errors.New("malformed response head")
	}
	return first.GetResponse(), nil
}

// PeerTracing traces calls over the peer protocol; either function may be
// nil.
type PeerTracing struct {
	// Inject adds the caller's trace context to an outgoing call.
	Inject func(ctx context.Context, h http.Header)
	// StartCallee opens the callee's span for a call; end closes it with
	// the call's outcome.
	StartCallee func(ctx context.Context, h http.Header, r *internalsv1.InternalInvokeRequest) (_ context.Context, end func(error))
}
