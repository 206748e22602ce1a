package grpcproxy

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/testutil"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestUnaryReachesAppWithMetadata(t *testing.T) {
	tp := startTopology(t)
	tests := []struct {
		name    string
		target  string
		app     *testApp
		want    map[string]string
		missing []string
	}{
		{
			name:   "remote",
			target: calleeID,
			app:    tp.calleeApp,
			want: map[string]string{
				keyCallerAppID: callerID, keyCalleeAppID: calleeID,
				keyAPIToken: calleeAppToken, "x-custom": "v",
			},
			missing: []string{keyAppID, keyCallerNamespace},
		},
		{
			name:    "self",
			target:  callerID,
			app:     tp.callerApp,
			want:    map[string]string{keyAPIToken: callerAppToken, "x-custom": "v"},
			missing: []string{keyAppID, keyCallerAppID, keyCalleeAppID},
		},
		{
			name:    "self with namespace",
			target:  callerID + "." + callerNS,
			app:     tp.callerApp,
			want:    map[string]string{keyAPIToken: callerAppToken},
			missing: []string{keyCallerAppID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := "unary-" + tt.name
			var header, trailer metadata.MD
			resp, err := tp.client.UnaryCall(toApp(testCtx(t), tt.target, "x-custom", "v"),
				&testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(body)}},
				grpc.Header(&header), grpc.Trailer(&trailer))
			if err != nil {
				t.Fatalf("UnaryCall: %v", err)
			}
			if got, want := string(resp.GetPayload().GetBody()), tt.app.name+":"+body; got != want {
				t.Errorf("body = %q, want %q", got, want)
			}
			if got := header.Get("x-app-header"); !slices.Equal(got, []string{tt.app.name}) {
				t.Errorf("header x-app-header = %q, want [%q]", got, tt.app.name)
			}
			if got := trailer.Get("x-app-trailer"); !slices.Equal(got, []string{body}) {
				t.Errorf("trailer x-app-trailer = %q, want [%q]", got, body)
			}
			md, ok := tt.app.metadataFor(body)
			if !ok {
				t.Fatalf("app %s did not see the call", tt.app.name)
			}
			for k, v := range tt.want {
				if got := md.Get(k); !slices.Equal(got, []string{v}) {
					t.Errorf("app metadata %s = %q, want [%q]", k, got, v)
				}
			}
			for _, k := range tt.missing {
				if got := md.Get(k); len(got) > 0 {
					t.Errorf("app metadata %s = %q, want absent", k, got)
				}
			}
		})
	}
}

func TestStatusPassesThroughUnchanged(t *testing.T) {
	tp := startTopology(t)
	want, err := status.New(codes.NotFound, "no such widget").WithDetails(&errdetails.ResourceInfo{
		ResourceType: "widget", ResourceName: "no such widget",
	})
	if err != nil {
		t.Fatal(err)
	}
	echo := &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such widget"}
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"unary", func(ctx context.Context) error {
			_, err := tp.client.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: echo})
			return err
		}},
		{"server streaming after messages", func(ctx context.Context) error {
			stream, err := tp.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
				ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}},
				ResponseStatus:     echo,
			})
			if err != nil {
				return err
			}
			for n := 0; ; n++ {
				if _, err := stream.Recv(); err != nil {
					if n != 2 {
						t.Errorf("got %d messages before the status, want 2", n)
					}
					return err
				}
			}
		}},
	}
	for _, tt := range tests {
		for _, target := range []string{calleeID, callerID} {
			t.Run(tt.name+"/"+target, func(t *testing.T) {
				err := tt.call(toApp(testCtx(t), target))
				got, ok := status.FromError(err)
				if !ok {
					t.Fatalf("error %v is not a status", err)
				}
				if !proto.Equal(got.Proto(), want.Proto()) {
					t.Errorf("status = %v, want %v", got.Proto(), want.Proto())
				}
			})
		}
	}
}

func TestServerStreaming(t *testing.T) {
	tp := startTopology(t)
	stream, err := tp.client.StreamingOutputCall(toApp(testCtx(t), calleeID), &testpb.StreamingOutputCallRequest{
		Payload:            &testpb.Payload{Body: []byte("out")},
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		got = append(got, string(resp.GetPayload().GetBody()))
	}
	want := []string{"callee:out#0/1", "callee:out#1/2", "callee:out#2/3"}
	if !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
	if md, ok := tp.calleeApp.metadataFor("out"); !ok || md.Get(keyCallerAppID)[0] != callerID {
		t.Errorf("app metadata = %v, want %s=%s", md, keyCallerAppID, callerID)
	}
}

func TestClientStreaming(t *testing.T) {
	tp := startTopology(t)
	stream, err := tp.client.StreamingInputCall(toApp(testCtx(t), calleeID))
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{"in", "abcd", "0123456789"}
	for _, p := range parts {
		if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte(p)}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("CloseAndRecv: %v", err)
	}
	if got, want := resp.GetAggregatedPayloadSize(), int32(16); got != want {
		t.Errorf("aggregated size = %d, want %d", got, want)
	}
	if md, ok := tp.calleeApp.metadataFor("in"); !ok || md.Get(keyAPIToken)[0] != calleeAppToken {
		t.Errorf("app metadata = %v, want %s=%s", md, keyAPIToken, calleeAppToken)
	}
}

func TestBidiStreaming(t *testing.T) {
	tp := startTopology(t)
	stream, err := tp.client.FullDuplexCall(toApp(testCtx(t), calleeID))
	if err != nil {
		t.Fatal(err)
	}
	// The app sends its header before any message; the proxy must relay it
	// without waiting for a response frame.
	header, err := stream.Header()
	if err != nil {
		t.Fatalf("Header: %v", err)
	}
	if got := header.Get("x-app-header"); !slices.Equal(got, []string{calleeID}) {
		t.Errorf("header x-app-header = %q, want [%q]", got, calleeID)
	}
	for _, body := range []string{"ping-1", "ping-2", "ping-3"} {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if got, want := string(resp.GetPayload().GetBody()), "callee:"+body; got != want {
			t.Errorf("echo = %q, want %q", got, want)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("final Recv = %v, want EOF", err)
	}
	if got := stream.Trailer().Get("x-app-trailer"); !slices.Equal(got, []string{"duplex"}) {
		t.Errorf("trailer x-app-trailer = %q, want [duplex]", got)
	}
}

func TestBidiAppEndsBeforeClient(t *testing.T) {
	tp := startTopology(t)
	stream, err := tp.client.FullDuplexCall(toApp(testCtx(t), calleeID))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(bodyStop)}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	if s := status.Convert(err); s.Code() != codes.Aborted || s.Message() != "stopped early" {
		t.Errorf("Recv = %v, want Aborted stopped early", err)
	}
}

func TestDeadlinePropagates(t *testing.T) {
	tp := startTopology(t)
	for _, target := range []string{calleeID, callerID} {
		t.Run(target, func(t *testing.T) {
			app := tp.calleeApp
			if target == callerID {
				app = tp.callerApp
			}
			ctx, cancel := context.WithTimeout(toApp(t.Context(), target), 300*time.Millisecond)
			defer cancel()
			_, err := tp.client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(bodyBlock)}})
			if code := status.Code(err); code != codes.DeadlineExceeded {
				t.Fatalf("code = %v (%v), want DeadlineExceeded", code, err)
			}
			waitCancelled(t, app, bodyBlock)
			if !app.hadDeadline(bodyBlock) {
				t.Error("app call had no deadline")
			}
		})
	}
}

func TestClientCancelTearsDownApp(t *testing.T) {
	tp := startTopology(t)
	ctx, cancel := context.WithCancel(toApp(testCtx(t), calleeID))
	defer cancel()
	stream, err := tp.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(bodyBlock)}}); err != nil {
		t.Fatal(err)
	}
	// Wait until the app has the call before cancelling.
	testutil.Eventually(t, 5*time.Second, "the app to receive the call", func() bool {
		_, ok := tp.calleeApp.metadataFor(bodyBlock)
		return ok
	})
	cancel()
	waitCancelled(t, tp.calleeApp, bodyBlock)
}

func waitCancelled(t *testing.T, app *testApp, body string) {
	t.Helper()
	select {
	case got := <-app.cancelled:
		if got != body {
			t.Errorf("cancelled call %q, want %q", got, body)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("app %s call %q was not cancelled", app.name, body)
	}
}

func TestRouteErrors(t *testing.T) {
	tp := startTopology(t)
	tests := []struct {
		name     string
		md       metadata.MD
		wantCode codes.Code
		wantMsg  string
	}{
		{"no target", metadata.Pairs("x-custom", "v"), codes.Unknown,
			"cannot proxy request: missing dapr-callee-app-id or dapr-app-id metadata"},
		{"resolver status kept", metadata.Pairs(keyAppID, "ghost"), codes.NotFound, `app "ghost" not found`},
		{"callee has no app channel", metadata.Pairs(keyAppID, noAppID), codes.Internal, "app channel is not initialized"},
		{"callee app unhealthy", metadata.Pairs(keyAppID, sickID), codes.Internal, "app is not in a healthy state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.NewOutgoingContext(testCtx(t), tt.md)
			_, err := tp.client.UnaryCall(ctx, &testpb.SimpleRequest{})
			s := status.Convert(err)
			if s.Code() != tt.wantCode || s.Message() != tt.wantMsg {
				t.Errorf("got %v %q, want %v %q", s.Code(), s.Message(), tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestCalleeRejectsOtherApp(t *testing.T) {
	appConn := startApp(t, newTestApp("real"))
	conn := startSidecar(t, Config{AppID: "real", Side: Callee, LocalApp: func() *grpc.ClientConn { return appConn }})
	ctx := metadata.NewOutgoingContext(testCtx(t), metadata.Pairs(keyCalleeAppID, "other", keyAppID, "real"))
	_, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("code = %v (%v), want Unavailable", code, err)
	}
}

func TestRegisteredServiceStillServed(t *testing.T) {
	tp := startTopology(t)
	resp, err := healthpb.NewHealthClient(tp.conn).Check(testCtx(t), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status = %v, want SERVING", resp.GetStatus())
	}
}

// TestNoGoroutineLeak runs every kind of call, including ones cut short,
// and checks that the goroutine count returns to where it started, with
// and without a resiliency policy (replayed calls read the request on a
// goroutine of their own).
func TestNoGoroutineLeak(t *testing.T) {
	t.Run("no policy", func(t *testing.T) { checkNoGoroutineLeak(t, startTopology(t)) })
	t.Run("retry policy", func(t *testing.T) {
		p := appPolicy(t, retries(2, nil), resources.EndpointPolicyNames{Retry: "fast"})
		checkNoGoroutineLeak(t, startTopology(t, withPolicy(p)))
	})
}

func checkNoGoroutineLeak(t *testing.T, tp *topology) {
	runAll := func() {
		ctx := toApp(testCtx(t), calleeID)
		if _, err := tp.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("unary: %v", err)
		}
		out, err := tp.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
			ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = out.Recv()
		}
		in, err := tp.client.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.CloseAndRecv(); err != nil {
			t.Fatalf("client streaming: %v", err)
		}
		// App ends while the client is still sending.
		bidi, err := tp.client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := bidi.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(bodyStop)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := bidi.Recv(); status.Code(err) != codes.Aborted {
			t.Fatalf("early stop: %v", err)
		}
		// Deadline cuts the app off. It must leave the call time to reach
		// the app first, through both sidecars, under the race detector
		// on a busy machine (50 ms did not, once in four runs).
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if _, err := tp.client.UnaryCall(short, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(bodyBlock)}}); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("deadline: %v", err)
		}
		waitCancelled(t, tp.calleeApp, bodyBlock)
	}

	runAll() // establish connections and grpc's lazily started goroutines
	base := runtime.NumGoroutine()
	for range 3 {
		runAll()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, want <= %d\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
