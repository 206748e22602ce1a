package invoke

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/grpccodec"
)

// Server is the callee side of service invocation: it serves
// dapr.proto.internals.v1.ServiceInvocation on the internal port and hands
// calls from other sidecars to the local app. Actor methods go to the actor
// runtime (SetActors); without one they answer Unimplemented.
type Server struct {
	internalsv1.UnimplementedServiceInvocationServer
	local   atomic.Pointer[channelRef]
	healthy func() bool
	actors  atomic.Pointer[actorsRef]

	peerTracing PeerTracing
}

// NewServer builds a Server over the local app channel (nil until the app
// is known, see SetLocal). healthy, when set, reports the app's health;
// calls to an unhealthy app fail fast.
func NewServer(local appchannel.Channel, healthy func() bool) *Server {
	s := &Server{healthy: healthy}
	s.SetLocal(local)
	return s
}

// SetLocal sets (or replaces) the channel to the local app.
func (s *Server) SetLocal(ch appchannel.Channel) {
	s.local.Store(&channelRef{ch: ch})
}

// ServerOptions are the internal gRPC server's transport settings in
// daprd: message size bound, keepalive pings after 10s idle (5s timeout),
// client pings allowed every 8s even without streams, idle connections
// closed after 3 minutes.
func ServerOptions(maxMessageSize int) []grpc.ServerOption {
	if maxMessageSize <= 0 {
		maxMessageSize = defaultMaxMessageSize
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, MaxConnectionIdle: 3 * time.Minute}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 8 * time.Second, PermitWithoutStream: true}),
		grpc.InitialWindowSize(FlowWindow),
		grpc.InitialConnWindowSize(FlowWindow),
		// Decodes streamed payload chunks into recycled buffers (recvChunk);
		// the gRPC proxy installs the same codec.
		grpc.ForceServerCodecV2(grpccodec.Codec{}),
		StreamWorkers(),
	}
}

// streamWorkers is how many handler goroutines a gRPC server keeps.
const streamWorkers = 32

// StreamWorkers makes a gRPC server run calls on goroutines it keeps
// instead of a new one per call. A new goroutine's stack is copied each
// time it grows, through the interceptors and, for a proxied call, into
// the client stream to the other sidecar: about a sixth of a sidecar's CPU
// per proxied call. A call arriving while every worker is busy gets a new
// goroutine, so long-lived streams never hold others up; the count covers
// the calls a sidecar serves at once under moderate load (at 1,000 calls/s
// each lasting a few milliseconds, a handful), and idle workers cost a few
// kilobytes of stack each.
func StreamWorkers() grpc.ServerOption {
	return grpc.NumStreamWorkers(streamWorkers)
}

// channel returns the app channel if calls may go to the app now.
func (s *Server) channel() (appchannel.Channel, error) {
	ch := s.local.Load().ch
	if ch == nil {
		return nil, status.Error(codes.Internal, "app channel is not initialized")
	}
	if s.healthy != nil && !s.healthy() {
		return nil, status.Error(codes.Internal, "app is not in a healthy state")
	}
	return ch, nil
}

// prepare validates an incoming request before it reaches the app.
func prepare(msg *internalsv1.InternalInvokeRequest) error {
	if msg == nil || msg.GetMessage() == nil {
		return status.Error(codes.InvalidArgument, "the request carries no invoke message")
	}
	m, err := NormalizeMethod(msg.Message.GetMethod())
	if err != nil {
		return err
	}
	msg.Message.Method = m
	// Routing metadata for sidecars, not for the app.
	delete(msg.Metadata, hdrDestinationID)
	return nil
}

// CallLocal serves the unary form: the whole body in the message, the
// whole response body back in one message.
func (s *Server) CallLocal(ctx context.Context, in *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	ch, err := s.channel()
	if err != nil {
		return nil, err
	}
	if err := prepare(in); err != nil {
		return nil, err
	}
	req := &appchannel.Request{Message: in}
	if d := in.Message.GetData(); d != nil {
		if len(d.GetValue()) > 0 {
			req.Body = bytes.NewReader(d.GetValue())
		}
		in.Message.Data = typeOnly(d)
	}
	resp, err := ch.Invoke(ctx, req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "error invoking app channel: %v", err)
	}
	if resp == nil || resp.Message.GetStatus() == nil {
		closeBody(resp)
		return nil, status.Error(codes.Internal, "error invoking app channel: the response has no status")
	}
	data, err := readAll(resp.Body, 0)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "error invoking app channel: %v", err)
	}
	out := resp.Message
	if out.Message == nil {
		out.Message = &commonv1.InvokeResponse{}
	}
	out.Message.Data = &anypb.Any{TypeUrl: out.Message.GetData().GetTypeUrl(), Value: data}
	return out, nil
}

func closeBody(resp *appchannel.Response) {
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
}

// CallLocalStream serves the streaming form: the request arrives as a
// first message plus payload chunks and streams into the app while the
// app's response streams back the same way.
func (s *Server) CallLocalStream(stream internalsv1.ServiceInvocation_CallLocalStreamServer) error {
	first := &internalsv1.InternalInvokeRequestStream{}
	if err := stream.RecvMsg(&requestStreamIn{m: first}); err != nil {
		return err
	}
	ch, err := s.channel()
	if err != nil {
		return err
	}
	msg := first.GetRequest()
	if err := prepare(msg); err != nil {
		return err
	}
	body, err := incomingBody(stream, first.GetPayload())
	if err != nil {
		return err
	}
	defer body.stop()
	req := &appchannel.Request{Message: msg, Body: body.reader()}
	resp, err := ch.Invoke(stream.Context(), req)
	if err != nil {
		return status.Errorf(codes.Internal, "error invoking app channel: %v", err)
	}
	return sendResponse(stream, resp)
}

// inBody is a request body arriving as payload chunks.
type inBody struct {
	payloadReader
	complete bool   // everything arrived up front
	data     []byte // the whole body when complete
	stopped  atomic.Bool
}

var errRequestFinished = errors.New("the invocation has finished")

// incomingBody reads ahead until it knows whether more is coming than
// what has arrived: small bodies (the common case) then reach the app
// complete, with a known length, and empty ones as no body at all.
func incomingBody(stream internalsv1.ServiceInvocation_CallLocalStreamServer, first *commonv1.StreamPayload) (*inBody, error) {
	var pre []*commonv1.StreamPayload
	if first != nil {
		pre = append(pre, first)
	}
	size := len(first.GetData())
	complete := false
	for !complete {
		m, err := stream.Recv()
		if err == io.EOF {
			complete = true
			break
		}
		if err != nil {
			return nil, err
		}
		p := m.GetPayload()
		if p == nil {
			continue
		}
		pre = append(pre, p)
		if size > 0 && len(p.GetData()) > 0 {
			break // a second chunk: the body streams
		}
		size += len(p.GetData())
	}
	b := &inBody{complete: complete}
	b.recv = func() (*commonv1.StreamPayload, error) {
		if len(pre) > 0 {
			p := pre[0]
			pre = pre[1:]
			return p, nil
		}
		if complete {
			return nil, io.EOF
		}
		if b.stopped.Load() {
			return nil, errRequestFinished
		}
		// The body streams: later chunks are read into recycled buffers.
		return b.recvPooled(stream)
	}
	if complete {
		data, err := b.readComplete()
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		b.data = data
	}
	return b, nil
}

// readComplete returns a body that arrived whole, checking sequence
// numbers. incomingBody stops at the second non-empty chunk, so a whole
// body is at most one chunk and needs no copy.
func (b *inBody) readComplete() ([]byte, error) {
	var out []byte
	for {
		p, err := b.recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if err := b.push(p); err != nil {
			return nil, err
		}
		if len(b.chunk) > 0 {
			out = b.chunk
		}
		b.chunk = nil
	}
}

// reader is the body for the app: nil when empty.
func (b *inBody) reader() io.Reader {
	if !b.complete {
		return b
	}
	if len(b.data) == 0 {
		return nil
	}
	return bytes.NewReader(b.data)
}

// stop is called when the handler returns: the stream must not be read
// any more, even if the app channel still holds the body.
func (b *inBody) stop() { b.stopped.Store(true) }

// sendResponse streams the app's response back: the first message carries
// the response (status, headers) and the first chunk, later ones only
// chunks. Server-sent events get their header out before any data.
func sendResponse(stream internalsv1.ServiceInvocation_CallLocalStreamServer, resp *appchannel.Response) error {
	defer closeBody(resp)
	msg, body, err := splitResponse(resp)
	if err != nil {
		return err
	}
	out := &internalsv1.InternalInvokeResponseStream{Response: msg}
	if body == nil {
		return stream.SendMsg(&responseStreamOut{m: out})
	}
	bp := getChunk()
	defer putChunk(bp)
	buf := *bp
	seq := uint64(0)
	if !isEventStream(responseContentType(msg)) {
		n, err := readSome(body, buf)
		if n > 0 {
			out.Payload = &commonv1.StreamPayload{Data: buf[:n], Seq: seq}
			seq++
		}
		if serr := stream.SendMsg(&responseStreamOut{m: out}); serr != nil {
			return serr
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "error reading app response: %v", err)
		}
	} else if err := stream.SendMsg(&responseStreamOut{m: out}); err != nil {
		return err
	}
	return sendChunks(stream, body, buf, seq)
}

// splitResponse takes the body out of the app's response: the stream, or
// the bytes of a response that carries them in its message (the type URL
// stays, for gRPC apps). body is nil when there is none.
func splitResponse(resp *appchannel.Response) (msg *internalsv1.InternalInvokeResponse, body io.Reader, err error) {
	if resp == nil || resp.Message.GetStatus() == nil {
		return nil, nil, status.Error(codes.Internal, "error invoking app channel: the response has no status")
	}
	msg, body = resp.Message, resp.Body
	if d := msg.GetMessage().GetData(); d != nil {
		if body == nil && len(d.GetValue()) > 0 {
			body = bytes.NewReader(d.GetValue())
		}
		msg.Message.Data = typeOnly(d)
	}
	return msg, body, nil
}

// sendChunks sends whatever the body yields, one message per read so
// streamed responses keep their pace.
func sendChunks(stream internalsv1.ServiceInvocation_CallLocalStreamServer, body io.Reader, buf []byte, seq uint64) error {
	msg := &internalsv1.InternalInvokeResponseStream{Payload: &commonv1.StreamPayload{}}
	for {
		n, err := body.Read(buf)
		if n > 0 {
			msg.Payload.Data, msg.Payload.Seq = buf[:n], seq
			seq++
			if serr := stream.Send(msg); serr != nil {
				return serr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return status.Errorf(codes.Internal, "error reading app response: %v", err)
		}
	}
}

// readSome reads until it gets data or an error.
func readSome(r io.Reader, buf []byte) (int, error) {
	for {
		n, err := r.Read(buf)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func responseContentType(msg *internalsv1.InternalInvokeResponse) string {
	if ct := msg.GetMessage().GetContentType(); ct != "" {
		return ct
	}
	for k, v := range msg.GetHeaders() {
		if strings.EqualFold(k, hdrContentType) && len(v.GetValues()) > 0 {
			return v.GetValues()[0]
		}
	}
	return ""
}
