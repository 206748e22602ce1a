package tracing

import (
	"context"
	"net/http"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func incoming(traceparent string) context.Context {
	sc, _ := ParseTraceparent(traceparent)
	return metadata.NewIncomingContext(context.Background(), metadata.MD{MetadataBinary: {string(EncodeBinary(sc))}})
}

func TestGRPCUnaryAPISpan(t *testing.T) {
	p, rec := recording(t, 1)
	s := grpcServer{p: p, appID: "app"}
	var handlerMD metadata.MD
	var handlerSC trace.SpanContext
	_, err := s.unary(incoming(sampledParent), &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "orders"},
		&grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/PublishEvent"},
		func(ctx context.Context, _ any) (any, error) {
			handlerMD, _ = metadata.FromIncomingContext(ctx)
			handlerSC = SpanContext(ctx)
			return nil, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	sp := spans[0]
	parent, _ := ParseTraceparent(sampledParent)
	if sp.Name() != "/dapr.proto.runtime.v1.Dapr/PublishEvent" || sp.SpanKind() != trace.SpanKindClient || sp.Parent().SpanID() != parent.SpanID() {
		t.Errorf("span %q kind %v parent %s", sp.Name(), sp.SpanKind(), sp.Parent().SpanID())
	}
	if attr(sp, "messaging.destination") != "orders" || attr(sp, "dapr.protocol") != "grpc" {
		t.Errorf("attributes %v", sp.Attributes())
	}
	if !handlerSC.Equal(sp.SpanContext()) || handlerMD.Get("traceparent")[0] != FormatTraceparent(sp.SpanContext()) {
		t.Errorf("the handler must see the API span in its context and metadata: %v", handlerMD)
	}
}

func TestGRPCUnaryInvokeActorName(t *testing.T) {
	p, rec := recording(t, 1)
	s := grpcServer{p: p, appID: "app"}
	_, _ = s.unary(context.Background(), &runtimev1.InvokeActorRequest{ActorType: "Cart", ActorId: "c1", Method: "add"},
		&grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/InvokeActor"}, func(context.Context, any) (any, error) { return nil, nil })
	if sp := rec.Ended()[0]; sp.Name() != "CallActor/Cart/add" || attr(sp, "dapr.actor") != "Cart.c1" || sp.Parent().IsValid() {
		t.Errorf("span %q %v", sp.Name(), sp.Attributes())
	}
}

func TestGRPCUnaryInternalCallLocal(t *testing.T) {
	p, rec := recording(t, 1)
	s := grpcServer{p: p, appID: "appb"}
	req := &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "orders"}}
	_, _ = s.unary(incoming(sampledParent), req, &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.internals.v1.ServiceInvocation/CallLocal"},
		func(context.Context, any) (any, error) { return nil, nil })
	sp := rec.Ended()[0]
	if sp.Name() != "CallLocal/appb/orders" || sp.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", sp.Name(), sp.SpanKind())
	}

	actor := &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "add"}, Actor: &internalsv1.Actor{ActorType: "Cart", ActorId: "c1"}}
	_, _ = s.unary(incoming(sampledParent), actor, &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.internals.v1.ServiceInvocation/CallActor"},
		func(context.Context, any) (any, error) { return nil, nil })
	if sp := rec.Ended()[1]; sp.Name() != "CallActor/Cart/add" || attr(sp, "dapr.actor") != "Cart.c1" {
		t.Errorf("actor span %q %v", sp.Name(), sp.Attributes())
	}
}

// fakeStream yields one CallLocalStream request.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context    { return f.ctx }
func (f *fakeStream) SetHeader(metadata.MD) error { return nil }
func (f *fakeStream) RecvMsg(m any) error {
	first := &internalsv1.InternalInvokeRequestStream{
		Request: &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "stream-method"}},
	}
	switch v := m.(type) {
	case *internalsv1.InternalInvokeRequestStream:
		v.Request = first.Request
	case *ownDecoder:
		v.m = first
	}
	return nil
}

// ownDecoder stands for a message type that decodes the first message
// itself (as the invocation layer does) and exposes the generated getter.
type ownDecoder struct {
	m *internalsv1.InternalInvokeRequestStream
}

func (d *ownDecoder) GetRequest() *internalsv1.InternalInvokeRequest { return d.m.GetRequest() }

func TestGRPCStreamNamesCallLocalFromFirstMessage(t *testing.T) {
	for name, msg := range map[string]func() any{
		"generated type": func() any { return &internalsv1.InternalInvokeRequestStream{} },
		"own decoder":    func() any { return &ownDecoder{} },
	} {
		t.Run(name, func(t *testing.T) {
			p, rec := recording(t, 1)
			s := grpcServer{p: p, appID: "appb"}
			var inHandler trace.SpanContext
			err := s.stream(nil, &fakeStream{ctx: incoming(sampledParent)}, &grpc.StreamServerInfo{FullMethod: "/dapr.proto.internals.v1.ServiceInvocation/CallLocalStream"},
				func(_ any, ss grpc.ServerStream) error {
					inHandler = SpanContext(ss.Context())
					return ss.RecvMsg(msg())
				})
			if err != nil {
				t.Fatal(err)
			}
			sp := rec.Ended()[0]
			if sp.Name() != "CallLocal/appb/stream-method" || !inHandler.Equal(sp.SpanContext()) {
				t.Errorf("span %q; handler context %s", sp.Name(), FormatTraceparent(inHandler))
			}
		})
	}
}

func TestGRPCDisabledPassesThrough(t *testing.T) {
	s := grpcServer{appID: "app"}
	var got trace.SpanContext
	_, _ = s.unary(incoming(sampledParent), &runtimev1.GetStateRequest{}, &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"},
		func(ctx context.Context, _ any) (any, error) { got = SpanContext(ctx); return nil, nil })
	if FormatTraceparent(got) != sampledParent {
		t.Errorf("handler context %s, want the caller's unchanged", FormatTraceparent(got))
	}
}

func TestGRPCClientInjects(t *testing.T) {
	sc, _ := ParseTraceparent(sampledParent)
	ctx := metadata.AppendToOutgoingContext(ContextWithRemote(context.Background(), sc), "keep", "me")
	var out metadata.MD
	err := injectUnary(ctx, "/x/Y", nil, nil, nil, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		out, _ = metadata.FromOutgoingContext(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bin, ok := DecodeBinary([]byte(out.Get(MetadataBinary)[0]))
	if !ok || !bin.Equal(sc) || out.Get("traceparent")[0] != sampledParent || out.Get("keep")[0] != "me" {
		t.Errorf("outgoing metadata %v", out)
	}
	// Without a trace nothing is added.
	_ = injectUnary(context.Background(), "/x/Y", nil, nil, nil, func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		out, _ = metadata.FromOutgoingContext(ctx)
		return nil
	})
	if len(out) != 0 {
		t.Errorf("untraced call got metadata %v", out)
	}
}

func TestPeerCalleeSpan(t *testing.T) {
	p, rec := recording(t, 1)
	start := p.PeerCallee("appb")
	req := &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "orders"}}
	ctx, end := start(context.Background(), http.Header{"Traceparent": {sampledParent}}, req)
	inHandler := SpanContext(ctx)
	end(status.Error(codes.Internal, "app failed"))
	sp := rec.Ended()[0]
	if sp.Name() != "CallLocal/appb/orders" || sp.SpanKind() != trace.SpanKindServer || !inHandler.Equal(sp.SpanContext()) {
		t.Errorf("span %q kind %v; handler context %s", sp.Name(), sp.SpanKind(), FormatTraceparent(inHandler))
	}
	if FormatTraceparent(trace.SpanContextFromContext(trace.ContextWithRemoteSpanContext(context.Background(), sp.Parent()))) != sampledParent {
		t.Errorf("parent %v, want the caller's span", sp.Parent())
	}
	if sp.Status().Description != "app failed" {
		t.Errorf("status %v", sp.Status())
	}

	// Disabled: the caller's context flows on unchanged.
	ctx, end = (&Provider{}).PeerCallee("appb")(context.Background(), http.Header{"Traceparent": {sampledParent}}, req)
	end(nil)
	if FormatTraceparent(SpanContext(ctx)) != sampledParent {
		t.Errorf("disabled: handler context %s, want the caller's", FormatTraceparent(SpanContext(ctx)))
	}
}
