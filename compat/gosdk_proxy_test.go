package compat

import (
	"errors"
	"io"
	"strings"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// goGRPCProxy calls the gRPC app's own grpc.health.v1.Health service over
// the Go SDK client's connection to the caller sidecar, addressed with
// dapr-app-id metadata (grpc-api.md §4).
func goGRPCProxy(t *testing.T, c dapr.Client, app *grpcApp, calleeID, callerID string) {
	health := healthpb.NewHealthClient(c.GrpcClientConn())

	t.Run("unary", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(callCtx(t), "dapr-app-id", calleeID)
		var header metadata.MD
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: healthService}, grpc.Header(&header))
		if err != nil {
			t.Fatalf("proxied Health/Check(%s): %v", healthService, err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Health/Check(%s) = %s, want SERVING", healthService, resp.GetStatus())
		}
		// The app's header carries the dapr-caller-app-id it received.
		if got := header.Get(seenCallerHeader); len(got) != 1 || got[0] != callerID {
			t.Errorf("app header %s = %q, want [%s]", seenCallerHeader, got, callerID)
		}
	})

	t.Run("app-status", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(callCtx(t), "dapr-app-id", calleeID)
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "compat.Missing"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("proxied Health/Check(compat.Missing) error = %v, want the app's NotFound", err)
		}
	})

	t.Run("server-stream", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(callCtx(t), "dapr-app-id", calleeID)
		service := "compat.Watch-" + uniq(t)
		app.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
		stream, err := health.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("proxied Health/Watch: %v", err)
		}
		want := healthpb.HealthCheckResponse_SERVING
		for _, next := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_NOT_SERVING, -1} {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("proxied Health/Watch Recv: %v", err)
			}
			if resp.GetStatus() != want {
				t.Fatalf("Health/Watch sent %s, want %s", resp.GetStatus(), want)
			}
			if next >= 0 {
				app.health.SetServingStatus(service, next)
				want = next
			}
		}
	})

	t.Run("bidi-stream", func(t *testing.T) { goProxyChat(t, c, calleeID) })
	t.Run("client-stream", func(t *testing.T) { goProxyCollect(t, c, calleeID) })

	t.Run("missing-app-id", func(t *testing.T) {
		_, err := health.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: healthService})
		// As daprd 1.18.3 words it.
		const msg = "cannot proxy request: missing dapr-callee-app-id or dapr-app-id metadata"
		if err == nil || status.Code(err) != codes.Unknown || status.Convert(err).Message() != msg {
			t.Errorf("Health/Check without dapr-app-id: error %v, want %q", err, msg)
		}
	})
}

// goProxyChat sends messages one at a time on a bidi stream, one of them
// larger than a single HTTP/2 frame, and expects each answered in turn.
func goProxyChat(t *testing.T, c dapr.Client, calleeID string) {
	ctx := metadata.AppendToOutgoingContext(callCtx(t), "dapr-app-id", calleeID)
	desc := &grpc.StreamDesc{StreamName: "Chat", ServerStreams: true, ClientStreams: true}
	stream, err := c.GrpcClientConn().NewStream(ctx, desc, chatMethod)
	if err != nil {
		t.Fatalf("proxied %s: %v", chatMethod, err)
	}
	for _, msg := range []string{"one", strings.Repeat("x", 1<<20), "three"} {
		if err := stream.SendMsg(wrapperspb.String(msg)); err != nil {
			t.Fatalf("%s send: %v", chatMethod, err)
		}
		got := new(wrapperspb.StringValue)
		if err := stream.RecvMsg(got); err != nil {
			t.Fatalf("%s receive: %v", chatMethod, err)
		}
		if got.GetValue() != "echo:"+msg {
			t.Fatalf("%s answered %d bytes %.20q…, want the echo of %d bytes", chatMethod, len(got.GetValue()), got.GetValue(), len(msg))
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("%s close send: %v", chatMethod, err)
	}
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		t.Errorf("%s after close: %v, want io.EOF (status OK)", chatMethod, err)
	}
}

func goProxyCollect(t *testing.T, c dapr.Client, calleeID string) {
	ctx := metadata.AppendToOutgoingContext(callCtx(t), "dapr-app-id", calleeID)
	desc := &grpc.StreamDesc{StreamName: "Collect", ClientStreams: true}
	stream, err := c.GrpcClientConn().NewStream(ctx, desc, collectMethod)
	if err != nil {
		t.Fatalf("proxied %s: %v", collectMethod, err)
	}
	for _, msg := range []string{"a", "b", "c"} {
		if err := stream.SendMsg(wrapperspb.String(msg)); err != nil {
			t.Fatalf("%s send: %v", collectMethod, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatalf("%s close send: %v", collectMethod, err)
	}
	got := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(got); err != nil {
		t.Fatalf("%s receive: %v", collectMethod, err)
	}
	if got.GetValue() != "a,b,c" {
		t.Errorf("%s answered %q, want %q", collectMethod, got.GetValue(), "a,b,c")
	}
}
