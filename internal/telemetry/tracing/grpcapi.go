package tracing

import (
	"context"
	"net/http"
	"strings"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	internalPrefix      = "/dapr.proto.internals."
	invokeServiceMethod = "/dapr.proto.runtime.v1.Dapr/InvokeService"
)

// GRPCServerOptions trace calls to a gRPC server: the Dapr API (client
// spans, as daprd records them) and the internal service-invocation API
// other sidecars call (server spans). appID names CallLocal spans on the
// callee side.
func (p *Provider) GRPCServerOptions(appID string) []grpc.ServerOption {
	s := grpcServer{p: p, appID: appID}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(s.unary), grpc.ChainStreamInterceptor(s.stream)}
}

type grpcServer struct {
	p     *Provider
	appID string
}

// start opens the call's span and, when tracing, rewrites the incoming
// trace metadata to the span so handlers pass it on.
func (s grpcServer) start(ctx context.Context, method string) (context.Context, trace.Span) {
	ctx = ExtractGRPC(ctx)
	kind := trace.SpanKindClient
	if strings.HasPrefix(method, internalPrefix) {
		kind = trace.SpanKindServer
	}
	ctx, span := s.p.Start(ctx, method, kind)
	if s.p.Enabled() {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			md = md.Copy()
			InjectGRPC(ctx, md)
			ctx = metadata.NewIncomingContext(ctx, md)
		}
	}
	return ctx, span
}

// finish sends grpc-trace-bin back (except on InvokeService, whose
// headers are the target's) and ends the span.
func (s grpcServer) finish(ctx context.Context, span trace.Span, method string, err error, setHeader func(metadata.MD) error) {
	if method != invokeServiceMethod && !strings.HasPrefix(method, internalPrefix) {
		if sc := span.SpanContext(); sc.IsValid() {
			_ = setHeader(metadata.Pairs(MetadataBinary, string(EncodeBinary(sc))))
		}
	}
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, status.Convert(err).Message())
	}
	span.End()
}

func (s grpcServer) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	ctx, span := s.start(ctx, info.FullMethod)
	if span.IsRecording() {
		s.describe(span, info.FullMethod, req)
	}
	resp, err := next(ctx, req)
	s.finish(ctx, span, info.FullMethod, err, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
	return resp, err
}

func (s grpcServer) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	ctx, span := s.start(ss.Context(), info.FullMethod)
	if ctx == ss.Context() {
		return next(srv, ss)
	}
	if span.IsRecording() {
		s.describe(span, info.FullMethod, nil)
	}
	err := next(srv, &tracedStream{ServerStream: ss, ctx: ctx, span: span, s: s})
	s.finish(ctx, span, info.FullMethod, err, ss.SetHeader)
	return err
}

// tracedStream carries the span's context; its first message names the
// span of a CallLocalStream.
type tracedStream struct {
	grpc.ServerStream
	ctx  context.Context
	span trace.Span
	s    grpcServer
	seen bool
}

func (t *tracedStream) Context() context.Context { return t.ctx }

func (t *tracedStream) RecvMsg(m any) error {
	err := t.ServerStream.RecvMsg(m)
	if err == nil && !t.seen {
		t.seen = true
		// The first message of a CallLocalStream: the generated type, or the
		// invocation layer's own decoder of it, which exposes the same getter.
		if first, ok := m.(interface {
			GetRequest() *internalsv1.InternalInvokeRequest
		}); ok && t.span.IsRecording() {
			t.s.describeInternal(t.span, first.GetRequest())
		}
	}
	return err
}

// describe names and attributes a gRPC span from its request.
func (s grpcServer) describe(span trace.Span, method string, req any) {
	attrs := []attribute.KeyValue{attribute.String(attrDaprProtocol, "grpc"), attribute.String(attrDaprAPI, method)}
	switch r := req.(type) {
	case *internalsv1.InternalInvokeRequest:
		s.describeInternal(span, r)
	case *runtimev1.InvokeServiceRequest:
		span.SetName("CallLocal/" + r.GetId() + "/" + r.GetMessage().GetMethod())
		attrs = append(attrs, attribute.String(attrRPCService, serviceInvocation), attribute.String(attrNetPeerName, r.GetId()),
			attribute.String(attrDaprInvokeMethod, r.GetMessage().GetMethod()))
	case *runtimev1.InvokeActorRequest:
		span.SetName("CallActor/" + r.GetActorType() + "/" + r.GetMethod())
		attrs = append(attrs, attribute.String(attrRPCService, serviceInvocation), attribute.String(attrDaprActor, r.GetActorType()+"."+r.GetActorId()),
			attribute.String(attrNetPeerName, r.GetActorType()+"."+r.GetActorId()))
	case interface{ GetPubsubName() string }:
		attrs = append(attrs, attribute.String(attrMessagingSystem, "pubsub"), attribute.String(attrMessagingDestKind, "topic"))
		if t, ok := req.(interface{ GetTopic() string }); ok {
			attrs = append(attrs, attribute.String(attrMessagingDest, t.GetTopic()))
		}
	case interface{ GetStoreName() string }:
		attrs = append(attrs, dbAttrs(storeKind(method), r.GetStoreName(), method)...)
	case *runtimev1.InvokeBindingRequest:
		attrs = append(attrs, dbAttrs("bindings", r.GetName(), method)...)
	default:
		if strings.HasPrefix(method, "/dapr.proto.runtime.") {
			attrs = append(attrs, attribute.String(attrRPCService, serviceDapr))
		}
	}
	span.SetAttributes(attrs...)
}

// describeInternal names a call from another sidecar: CallLocal/<this
// app>/<method>, or CallActor/<type>/<method> for actor calls.
func (s grpcServer) describeInternal(span trace.Span, r *internalsv1.InternalInvokeRequest) {
	method := r.GetMessage().GetMethod()
	attrs := []attribute.KeyValue{attribute.String(attrRPCService, serviceInvocation)}
	if a := r.GetActor(); a != nil {
		span.SetName("CallActor/" + a.GetActorType() + "/" + method)
		attrs = append(attrs, attribute.String(attrDaprActor, a.GetActorType()+"."+a.GetActorId()))
	} else {
		span.SetName("CallLocal/" + s.appID + "/" + method)
		attrs = append(attrs, attribute.String(attrDaprInvokeMethod, method))
	}
	span.SetAttributes(attrs...)
}

// storeKind tells state from secret stores by the API method.
func storeKind(method string) string {
	if strings.Contains(method, "Secret") {
		return "secrets"
	}
	return "state"
}

func dbAttrs(system, name, statement string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String(attrDBSystem, system), attribute.String(attrDBName, name),
		attribute.String(attrDBStatement, statement), attribute.String(attrDBConnection, system)}
}

// GRPCDialOptions pass the trace context of each outgoing call (to other
// sidecars, to the app) as grpc-trace-bin, traceparent and tracestate.
// They run even when tracing is disabled, so an incoming context flows on.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(injectUnary), grpc.WithChainStreamInterceptor(injectStream)}
}

func injectUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(OutgoingGRPC(ctx), method, req, reply, cc, opts...)
}

func injectStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(OutgoingGRPC(ctx), desc, cc, method, opts...)
}

// OutgoingGRPC adds the trace context of ctx to its outgoing gRPC
// metadata (for calls made without GRPCDialOptions).
func OutgoingGRPC(ctx context.Context) context.Context {
	if !SpanContext(ctx).IsValid() {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	InjectGRPC(ctx, md)
	return metadata.NewOutgoingContext(ctx, md)
}

// callLocalStreamMethod names the span of a call over Outrigger's peer
// protocol: it stands in for CallLocalStream, whose span it matches.
const callLocalStreamMethod = "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream"

// PeerCallee opens the callee's span of a call over the peer protocol,
// as the internal gRPC server does for CallLocalStream; end closes it.
func (p *Provider) PeerCallee(appID string) func(ctx context.Context, h http.Header, r *internalsv1.InternalInvokeRequest) (context.Context, func(error)) {
	s := grpcServer{p: p, appID: appID}
	return func(ctx context.Context, h http.Header, r *internalsv1.InternalInvokeRequest) (context.Context, func(error)) {
		ctx, span := p.Start(ExtractHTTP(ctx, h), callLocalStreamMethod, trace.SpanKindServer)
		if span.IsRecording() {
			s.describe(span, callLocalStreamMethod, r)
		}
		return ctx, func(err error) {
			s.finish(ctx, span, callLocalStreamMethod, err, func(metadata.MD) error { return nil })
		}
	}
}
