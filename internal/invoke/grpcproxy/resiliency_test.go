package grpcproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// appPolicy builds a provider with apps targets for the callee, the
// caller itself and "real" (the last two must never apply: self calls and
// the Callee side run without a policy).
func appPolicy(t *testing.T, pol resources.Policies, names resources.EndpointPolicyNames) *resiliency.Provider {
	t.Helper()
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "proxy"},
		Spec: resources.ResiliencySpec{Policies: pol, Targets: resources.Targets{
			Apps: map[string]resources.EndpointPolicyNames{calleeID: names, callerID: names, "real": names},
		}},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func withPolicy(p *resiliency.Provider) func(*Config) {
	return func(c *Config) { c.Policy = p.EndpointPolicy }
}

func retries(n int, matching *resources.RetryMatching) resources.Policies {
	return resources.Policies{Retries: map[string]resources.RetryPolicy{
		"fast": {Duration: "1ms", MaxRetries: &n, Matching: matching},
	}}
}

func unary(ctx context.Context, c testpb.TestServiceClient, body string, code codes.Code) (*testpb.SimpleResponse, metadata.MD, metadata.MD, error) {
	var header, trailer metadata.MD
	req := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(body)}}
	if code != codes.OK {
		req.ResponseStatus = &testpb.EchoStatus{Code: int32(code), Message: "app says no"}
	}
	resp, err := c.UnaryCall(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	return resp, header, trailer, err
}

func TestUnaryRetries(t *testing.T) {
	tests := []struct {
		name      string
		policy    resources.Policies
		target    string
		failFirst int
		status    codes.Code // asked of the app on every call
		wantCode  codes.Code
		wantCalls int
	}{
		{name: "fails twice then succeeds", policy: retries(3, nil), target: calleeID, failFirst: 2,
			wantCode: codes.OK, wantCalls: 3},
		{name: "retries exhausted", policy: retries(2, nil), target: calleeID, failFirst: 10,
			wantCode: codes.Unavailable, wantCalls: 3},
		{name: "status not matched is final", target: calleeID, status: codes.NotFound,
			policy:   retries(3, &resources.RetryMatching{GRPCStatusCodes: "14"}),
			wantCode: codes.NotFound, wantCalls: 1},
		{name: "status matched is retried", target: calleeID, status: codes.NotFound,
			policy:   retries(2, &resources.RetryMatching{GRPCStatusCodes: "5"}),
			wantCode: codes.NotFound, wantCalls: 3},
		{name: "self call has no policy", policy: retries(3, nil), target: callerID, failFirst: 1,
			wantCode: codes.Unavailable, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startTopology(t, withPolicy(appPolicy(t, tt.policy, resources.EndpointPolicyNames{Retry: "fast"})))
			app := tp.calleeApp
			if tt.target == callerID {
				app = tp.callerApp
			}
			body := "retry-" + tt.name
			app.failNext(body, tt.failFirst)
			resp, header, trailer, err := unary(toApp(testCtx(t), tt.target), tp.client, body, tt.status)
			if code := status.Code(err); code != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", code, err, tt.wantCode)
			}
			if got := app.callsFor(body); got != tt.wantCalls {
				t.Errorf("app called %d times, want %d", got, tt.wantCalls)
			}
			if err == nil && string(resp.GetPayload().GetBody()) != app.name+":"+body {
				t.Errorf("body = %q", resp.GetPayload().GetBody())
			}
			// Only the answering attempt's header reaches the client, with
			// its trailer.
			if got, want := header.Get("x-attempt"), []string{strconv.Itoa(tt.wantCalls)}; !slices.Equal(got, want) {
				t.Errorf("header x-attempt = %q, want %q", got, want)
			}
			if got := trailer.Get("x-app-trailer"); !slices.Equal(got, []string{body}) {
				t.Errorf("trailer x-app-trailer = %q, want [%q]", got, body)
			}
		})
	}
}

func TestAnsweredStreamIsNotRetried(t *testing.T) {
	tp := startTopology(t, withPolicy(appPolicy(t, retries(3, nil), resources.EndpointPolicyNames{Retry: "fast"})))
	body := "answered"
	out, err := tp.client.StreamingOutputCall(toApp(testCtx(t), calleeID), &testpb.StreamingOutputCallRequest{
		Payload:            &testpb.Payload{Body: []byte(body)},
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}},
		ResponseStatus:     &testpb.EchoStatus{Code: int32(codes.Unavailable), Message: "broke midway"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		m, err := out.Recv()
		if err != nil {
			if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "broke midway" {
				t.Fatalf("final status = %v", err)
			}
			break
		}
		got = append(got, string(m.GetPayload().GetBody()))
	}
	if want := []string{calleeID + ":" + body + "#0/1"}; !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
	if n := tp.calleeApp.callsFor(body); n != 1 {
		t.Errorf("app called %d times, want 1: a retry would repeat the message", n)
	}
}

func TestRetriesNeedOneRequestMessage(t *testing.T) {
	tp := startTopology(t, withPolicy(appPolicy(t, retries(3, nil), resources.EndpointPolicyNames{Retry: "fast"})))
	tests := []struct {
		name     string
		stream   bool
		messages int
		wantCode codes.Code
	}{
		{"one message", false, 1, codes.OK},
		{"no message", false, 0, codes.OK},
		{"two messages", false, 2, codes.FailedPrecondition},
		{"two messages as a stream", true, 2, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := toApp(testCtx(t), calleeID)
			if tt.stream {
				ctx = metadata.AppendToOutgoingContext(ctx, keyStream, "true")
			}
			in, err := tp.client.StreamingInputCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for range tt.messages {
				if err := in.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: []byte("abc")}}); err != nil {
					break // the proxy gave up; CloseAndRecv has the status
				}
			}
			resp, err := in.CloseAndRecv()
			s := status.Convert(err)
			if s.Code() != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", s.Code(), err, tt.wantCode)
			}
			if tt.wantCode == codes.FailedPrecondition && s.Message() != "cannot use resiliency policies with retries on streaming RPCs" {
				t.Errorf("message = %q", s.Message())
			}
			if err == nil && resp.GetAggregatedPayloadSize() != int32(3*tt.messages) {
				t.Errorf("size = %d, want %d", resp.GetAggregatedPayloadSize(), 3*tt.messages)
			}
		})
	}
}

func TestTimeoutPolicy(t *testing.T) {
	pol := resources.Policies{Timeouts: map[string]resources.Duration{"short": "100ms"}}
	tp := startTopology(t, withPolicy(appPolicy(t, pol, resources.EndpointPolicyNames{Timeout: "short"})))
	// The client allows 10s; the policy's 100ms ends the call.
	_, _, _, err := unary(toApp(testCtx(t), calleeID), tp.client, bodyBlock, codes.OK)
	if s := status.Convert(err); s.Code() != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	waitCancelled(t, tp.calleeApp, bodyBlock)
	// The policy's deadline reached the app, not the client's.
	if b := tp.calleeApp.budget(bodyBlock); b > 5*time.Second {
		t.Errorf("app call had %v left, want the policy's 100ms deadline", b)
	}
}

// TestTimeoutSparesEstablishedStreams: with dapr-stream the timeout bounds
// opening the call only; without it, the whole call.
func TestTimeoutSparesEstablishedStreams(t *testing.T) {
	const timeout = 100 * time.Millisecond
	pol := resources.Policies{Timeouts: map[string]resources.Duration{"short": resources.Duration(timeout.String())}}
	tp := startTopology(t, withPolicy(appPolicy(t, pol, resources.EndpointPolicyNames{Timeout: "short"})))
	t.Run("stream outlives the timeout", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(toApp(testCtx(t), calleeID), keyStream, "1")
		stream, err := tp.client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Let the timeout pass by far: a stream it covered would be gone.
		time.Sleep(3 * timeout)
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("late")}}); err != nil {
			t.Fatalf("send: %v", err)
		}
		m, err := stream.Recv()
		if err != nil || string(m.GetPayload().GetBody()) != calleeID+":late" {
			t.Fatalf("recv = %v, %v", m, err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("end = %v, want EOF", err)
		}
	})
	t.Run("call without dapr-stream is cut", func(t *testing.T) {
		stream, err := tp.client.FullDuplexCall(toApp(testCtx(t), calleeID))
		if err != nil {
			t.Fatal(err)
		}
		// The echo may or may not come back before the cut.
		_ = stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("cut")}})
		for err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("recv = %v, want DeadlineExceeded", err)
		}
		if b := tp.calleeApp.budget("cut"); b > 5*time.Second {
			t.Errorf("app call had %v left, want the policy's deadline", b)
		}
	})
}

// deadConn is a connection to a port nothing listens on: every call on it
// fails with Unavailable.
func deadConn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return dial(t, addr)
}

// failingTarget makes the first n resolutions of the callee return a dead
// connection; it counts resolutions.
func failingTarget(t *testing.T, n int, resolved *atomic.Int32) func(*Config) {
	dead := deadConn(t)
	return func(c *Config) {
		inner := c.Target
		c.Target = func(ctx context.Context, appID string) (*grpc.ClientConn, bool, error) {
			if appID == calleeID && int(resolved.Add(1)) <= n {
				return dead, false, nil
			}
			return inner(ctx, appID)
		}
	}
}

func TestStreamHandshakeRetried(t *testing.T) {
	var resolved atomic.Int32
	p := appPolicy(t, retries(3, nil), resources.EndpointPolicyNames{Retry: "fast"})
	tp := startTopology(t, withPolicy(p), failingTarget(t, 2, &resolved))
	ctx := metadata.AppendToOutgoingContext(toApp(testCtx(t), calleeID), keyStream, "true")
	stream, err := tp.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two"} {
		if err := stream.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil || string(m.GetPayload().GetBody()) != calleeID+":"+body {
			t.Fatalf("recv = %v, %v", m, err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
	// Two failed openings, each resolved again, then the working one.
	if n := resolved.Load(); n != 3 {
		t.Errorf("target resolved %d times, want 3", n)
	}
}

func TestCircuitBreakerOpens(t *testing.T) {
	pol := resources.Policies{CircuitBreakers: map[string]resources.CircuitBreakerPolicy{
		"cb": {Trip: "consecutiveFailures >= 2", Timeout: "1h"},
	}}
	names := resources.EndpointPolicyNames{CircuitBreaker: "cb"}
	tests := []struct {
		name string
		// fail makes one call that fails.
		fail func(t *testing.T, tp *topology) error
		// opts adjust the caller sidecar.
		opts []func(*Config)
	}{
		{
			name: "app failures",
			fail: func(t *testing.T, tp *topology) error {
				_, _, _, err := unary(toApp(testCtx(t), calleeID), tp.client, "cb", codes.Internal)
				return err
			},
		},
		{
			name: "stream openings",
			fail: func(t *testing.T, tp *topology) error {
				ctx := metadata.AppendToOutgoingContext(toApp(testCtx(t), calleeID), keyStream, "true")
				stream, err := tp.client.FullDuplexCall(ctx)
				if err != nil {
					return err
				}
				_, err = stream.Recv()
				return err
			},
			opts: []func(*Config){failingTarget(t, 1000, &atomic.Int32{})},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := startTopology(t, append(tt.opts, withPolicy(appPolicy(t, pol, names)))...)
			for i := range 2 {
				if err := tt.fail(t, tp); status.Code(err) == codes.OK || isOpen(err) {
					t.Fatalf("call %d = %v, want the failure itself", i, err)
				}
			}
			err := tt.fail(t, tp)
			if !isOpen(err) {
				t.Fatalf("third call = %v, want the breaker to refuse it", err)
			}
			if n := tp.calleeApp.callsFor("cb"); n > 2 {
				t.Errorf("app called %d times, want at most 2", n)
			}
		})
	}
}

func isOpen(err error) bool {
	s := status.Convert(err)
	return s.Code() == codes.Unknown && s.Message() == resiliency.ErrCircuitOpen.Error()
}

// TestCalleeSideHasNoPolicy: the Callee side forwards to its own app and
// never applies a policy, even when configured.
func TestCalleeSideHasNoPolicy(t *testing.T) {
	app := newTestApp("real")
	appConn := startApp(t, app)
	p := appPolicy(t, retries(3, nil), resources.EndpointPolicyNames{Retry: "fast"})
	conn := startSidecar(t, Config{AppID: "real", Side: Callee, Policy: p.EndpointPolicy,
		LocalApp: func() *grpc.ClientConn { return appConn }})
	app.failNext("once", 1)
	_, _, _, err := unary(toApp(testCtx(t), "real"), testpb.NewTestServiceClient(conn), "once", codes.OK)
	if status.Code(err) != codes.Unavailable || app.callsFor("once") != 1 {
		t.Fatalf("got %v after %d calls, want Unavailable after 1", err, app.callsFor("once"))
	}
}
