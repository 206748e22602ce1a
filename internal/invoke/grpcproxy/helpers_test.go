package grpcproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Request bodies that make the test app behave specially.
const (
	bodyBlock = "block" // wait for the caller to give up
	bodyStop  = "stop"  // end a bidi stream at once, before the client closes
)

// testApp is an app's own gRPC server. It records the metadata of every
// call by request body, answers with "<name>:<body>", sets a header and a
// trailer, and returns any status asked for in ResponseStatus with a
// ResourceInfo detail.
type testApp struct {
	testpb.UnimplementedTestServiceServer
	name string

	mu        sync.Mutex
	seen      map[string]metadata.MD
	deadlines map[string]bool
	budgets   map[string]time.Duration // time left before the call's deadline, on arrival
	cancelled chan string              // bodies whose handler saw its context end
	calls     map[string]int
	failFirst map[string]int // body → calls left to fail with Unavailable
}

func newTestApp(name string) *testApp {
	return &testApp{
		name:      name,
		seen:      map[string]metadata.MD{},
		deadlines: map[string]bool{},
		budgets:   map[string]time.Duration{},
		cancelled: make(chan string, 16),
		calls:     map[string]int{},
		failFirst: map[string]int{},
	}
}

// failNext makes the next n calls with body fail with Unavailable.
func (a *testApp) failNext(body string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failFirst[body] = n
}

// count records one call with body and returns its number (from 1) and
// whether it must fail.
func (a *testApp) count(body string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[body]++
	fail := a.failFirst[body] > 0
	if fail {
		a.failFirst[body]--
	}
	return a.calls[body], fail
}

func (a *testApp) callsFor(body string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[body]
}

func (a *testApp) record(ctx context.Context, body string) {
	md, _ := metadata.FromIncomingContext(ctx)
	dl, hasDeadline := ctx.Deadline()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[body] = md
	a.deadlines[body] = hasDeadline
	a.budgets[body] = time.Until(dl)
}

// budget is the time the call with body had left when it arrived.
func (a *testApp) budget(body string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.budgets[body]
}

func (a *testApp) metadataFor(body string) (metadata.MD, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	md, ok := a.seen[body]
	return md, ok
}

func (a *testApp) hadDeadline(body string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.deadlines[body]
}

func (a *testApp) reply(body string) *testpb.Payload {
	return &testpb.Payload{Body: []byte(a.name + ":" + body)}
}

func appStatus(es *testpb.EchoStatus) error {
	if es == nil || es.Code == 0 {
		return nil
	}
	st, err := status.New(codes.Code(es.Code), es.Message).WithDetails(&errdetails.ResourceInfo{
		ResourceType: "widget",
		ResourceName: es.Message,
	})
	if err != nil {
		return fmt.Errorf("add status detail: %w", err)
	}
	return st.Err()
}

// block waits for the call's context to end and reports it.
func (a *testApp) block(ctx context.Context, body string) error {
	<-ctx.Done()
	a.cancelled <- body
	return status.FromContextError(ctx.Err()).Err()
}

func (a *testApp) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	body := string(req.GetPayload().GetBody())
	a.record(ctx, body)
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-app-header", a.name)); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-app-trailer", body)); err != nil {
		return nil, err
	}
	n, fail := a.count(body)
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-attempt", strconv.Itoa(n))); err != nil {
		return nil, err
	}
	if fail {
		return nil, status.Error(codes.Unavailable, "not ready yet")
	}
	if body == bodyBlock {
		return nil, a.block(ctx, body)
	}
	if err := appStatus(req.GetResponseStatus()); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: a.reply(body)}, nil
}

func (a *testApp) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, out grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	body := string(req.GetPayload().GetBody())
	a.record(out.Context(), body)
	if _, fail := a.count(body); fail {
		return status.Error(codes.Unavailable, "not ready yet")
	}
	for i, p := range req.GetResponseParameters() {
		part := fmt.Sprintf("%s#%d/%d", body, i, p.GetSize())
		if err := out.Send(&testpb.StreamingOutputCallResponse{Payload: a.reply(part)}); err != nil {
			return err
		}
	}
	return appStatus(req.GetResponseStatus())
}

func (a *testApp) StreamingInputCall(in grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	total := 0
	for {
		req, err := in.Recv()
		if errors.Is(err, io.EOF) {
			return in.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
		}
		if err != nil {
			return err
		}
		if total == 0 {
			a.record(in.Context(), string(req.GetPayload().GetBody()))
		}
		total += len(req.GetPayload().GetBody())
	}
}

func (a *testApp) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	if err := stream.SendHeader(metadata.Pairs("x-app-header", a.name)); err != nil {
		return err
	}
	stream.SetTrailer(metadata.Pairs("x-app-trailer", "duplex"))
	first := true
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		body := string(req.GetPayload().GetBody())
		if first {
			a.record(stream.Context(), body)
			first = false
		}
		switch body {
		case bodyBlock:
			return a.block(stream.Context(), body)
		case bodyStop:
			return status.Error(codes.Aborted, "stopped early")
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: a.reply(body)}); err != nil {
			return err
		}
	}
}

// serve starts a gRPC server on a free local port and stops it at cleanup.
func serve(t *testing.T, srv *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func startApp(t *testing.T, app *testApp) *grpc.ClientConn {
	t.Helper()
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, app)
	return dial(t, serve(t, srv))
}

// topology is client → caller sidecar (API server) → callee sidecar
// (internal server) → callee app, plus the caller's own app for self calls.
type topology struct {
	client    testpb.TestServiceClient
	conn      *grpc.ClientConn // client's connection to the caller sidecar
	callerApp *testApp
	calleeApp *testApp
}

const (
	callerID       = "caller"
	calleeID       = "callee"
	noAppID        = "noapp" // a sidecar without an app channel
	sickID         = "sick"  // a sidecar whose app is unhealthy
	callerNS       = "ns1"
	callerAppToken = "caller-app-token"
	calleeAppToken = "callee-app-token"
)

// startTopology starts the topology; opts adjust the caller sidecar's
// configuration.
func startTopology(t *testing.T, opts ...func(*Config)) *topology {
	t.Helper()
	tp := &topology{callerApp: newTestApp(callerID), calleeApp: newTestApp(calleeID)}
	callerAppConn := startApp(t, tp.callerApp)
	calleeAppConn := startApp(t, tp.calleeApp)

	sidecars := map[string]*grpc.ClientConn{
		calleeID: startSidecar(t, Config{AppID: calleeID, Namespace: callerNS, Side: Callee,
			LocalApp: func() *grpc.ClientConn { return calleeAppConn }, AppAPIToken: calleeAppToken}),
		noAppID: startSidecar(t, Config{AppID: noAppID, Side: Callee,
			LocalApp: func() *grpc.ClientConn { return nil }}),
		sickID: startSidecar(t, Config{AppID: sickID, Side: Callee,
			LocalApp: func() *grpc.ClientConn { return calleeAppConn }, Healthy: func() bool { return false }}),
	}
	target := func(_ context.Context, appID string) (*grpc.ClientConn, bool, error) {
		if appID == callerID {
			return nil, true, nil
		}
		if conn, ok := sidecars[appID]; ok {
			return conn, false, nil
		}
		return nil, false, status.Errorf(codes.NotFound, "app %q not found", appID)
	}
	caller := Config{AppID: callerID, Namespace: callerNS, Side: Caller, Target: target,
		LocalApp: func() *grpc.ClientConn { return callerAppConn }, AppAPIToken: callerAppToken}
	for _, o := range opts {
		o(&caller)
	}
	tp.conn = startSidecar(t, caller)
	tp.client = testpb.NewTestServiceClient(tp.conn)
	return tp
}

// startSidecar runs a server with the proxy installed next to a registered
// service (health), as the sidecar's servers do, and returns a connection.
func startSidecar(t *testing.T, cfg Config) *grpc.ClientConn {
	t.Helper()
	srv := grpc.NewServer(ServerOptions(cfg)...)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	return dial(t, serve(t, srv))
}

// toApp returns a context carrying the metadata an app puts on a proxied
// call: the target and its sidecar's API token.
func toApp(ctx context.Context, appID string, kv ...string) context.Context {
	kv = append([]string{keyAppID, appID, keyAPIToken, "client-token"}, kv...)
	return metadata.NewOutgoingContext(ctx, metadata.Pairs(kv...))
}
