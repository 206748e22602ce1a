package appchannel

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/testutil"
)

// grpcApp is a test app implementing AppCallback and its health check.
type grpcApp struct {
	runtimev1.UnimplementedAppCallbackServer
	runtimev1.UnimplementedAppCallbackHealthCheckServer

	mu        sync.Mutex
	lastMD    metadata.MD
	lastReq   *commonv1.InvokeRequest
	unhealthy atomic.Bool
}

func (a *grpcApp) OnInvoke(ctx context.Context, in *commonv1.InvokeRequest) (*commonv1.InvokeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	a.lastMD, a.lastReq = md, in
	a.mu.Unlock()
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-h", "h1", "x-bin", "\x00\x01"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-t", "t1"))
	switch in.GetMethod() {
	case "fail":
		return nil, status.Error(codes.NotFound, "no such thing")
	case "big":
		return &commonv1.InvokeResponse{Data: &anypb.Any{Value: make([]byte, 20)}}, nil
	}
	return &commonv1.InvokeResponse{
		Data:        &anypb.Any{Value: append([]byte("echo:"), in.GetData().GetValue()...)},
		ContentType: "text/plain",
	}, nil
}

func (a *grpcApp) HealthCheck(context.Context, *emptypb.Empty) (*runtimev1.HealthCheckResponse, error) {
	if a.unhealthy.Load() {
		return nil, status.Error(codes.Unavailable, "sick")
	}
	return &runtimev1.HealthCheckResponse{}, nil
}

func (a *grpcApp) seen() (metadata.MD, *commonv1.InvokeRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastMD, a.lastReq
}

// startGRPCApp serves app on 127.0.0.1:0 (TLS when cert is given) and
// returns a channel to it.
func startGRPCApp(t *testing.T, app *grpcApp, cert *tls.Certificate, cfg Config) Channel {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	cfg.Protocol = "grpc"
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(cert)))
		cfg.Protocol = "grpcs"
	}
	srv := grpc.NewServer(opts...)
	runtimev1.RegisterAppCallbackServer(srv, app)
	runtimev1.RegisterAppCallbackHealthCheckServer(srv, app)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cfg.Address, cfg.Port = hostPort(t, lis.Addr().String())
	ch, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

func TestGRPCInvokeFromHTTP(t *testing.T) {
	app := &grpcApp{}
	ch := startGRPCApp(t, app, nil, Config{AppAPIToken: "app-secret"})
	if ch.GRPCConn() == nil || ch.Protocol() != "grpc" {
		t.Fatalf("conn %v protocol %q", ch.GRPCConn(), ch.Protocol())
	}
	md := map[string][]string{
		"content-type":   {"application/json"},
		"user-agent":     {"curl/8"},
		"accept":         {"*/*"},
		"x-custom":       {"v1", "v2"},
		"dapr-api-token": {"caller-token"},
		"dapr-app-id":    {"target"},
		"grpc-trace-bin": {base64.StdEncoding.EncodeToString([]byte{0, 1, 2})},
		"x-utf8":         {"caf\u00e9"},
	}
	req := newTestRequest("orders/1", commonv1.HTTPExtension_PUT, "a=1", "application/json", md, strings.NewReader(`{"q":1}`))
	resp, err := ch.Invoke(context.Background(), req)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if got := readAllClose(t, resp.Body); got != `echo:{"q":1}` {
		t.Errorf("body %q", got)
	}
	m := resp.Message
	if m.GetStatus().GetCode() != 0 || m.GetMessage().GetContentType() != "text/plain" {
		t.Errorf("status %v content type %q", m.GetStatus(), m.GetMessage().GetContentType())
	}
	if v := m.GetHeaders()["x-h"].GetValues(); len(v) != 1 || v[0] != "h1" {
		t.Errorf("header x-h %q", v)
	}
	if v := m.GetHeaders()["x-bin"].GetValues(); len(v) != 1 || v[0] != base64.StdEncoding.EncodeToString([]byte{0, 1}) {
		t.Errorf("binary header x-bin %q", v)
	}
	if v := m.GetTrailers()["x-t"].GetValues(); len(v) != 1 || v[0] != "t1" {
		t.Errorf("trailer x-t %q", v)
	}

	seenMD, in := app.seen()
	if in.GetMethod() != "orders/1" || in.GetContentType() != "application/json" ||
		in.GetHttpExtension().GetVerb() != commonv1.HTTPExtension_PUT || in.GetHttpExtension().GetQuerystring() != "a=1" {
		t.Errorf("app got request %v", in)
	}
	want := map[string]string{
		"dapr-content-type": "application/json",
		"dapr-accept":       "*/*",
		"x-custom":          "v1,v2",
		"dapr-api-token":    "app-secret",
		"grpc-trace-bin":    "\x00\x01\x02",
	}
	for k, v := range want {
		if got := strings.Join(seenMD.Get(k), ","); got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"dapr-app-id", "x-utf8", "accept", "dapr-user-agent"} {
		if v := seenMD.Get(k); len(v) > 0 {
			t.Errorf("metadata %s forwarded: %q", k, v)
		}
	}
}

func TestGRPCInvokeFromGRPC(t *testing.T) {
	app := &grpcApp{}
	ch := startGRPCApp(t, app, nil, Config{})
	md := map[string][]string{
		":authority":   {"caller:50001"},
		"content-type": {"application/grpc"},
		"grpc-timeout": {"1S"},
		"user-agent":   {"grpc-go/1"},
		"x-k":          {"v"},
		"Upper-Case":   {"u"},
	}
	resp, err := ch.Invoke(context.Background(), newTestRequest("m", commonv1.HTTPExtension_NONE, "", "", md, nil))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	readAllClose(t, resp.Body)
	seenMD, _ := app.seen()
	if v := seenMD.Get("x-k"); len(v) != 1 || v[0] != "v" {
		t.Errorf("x-k %q", v)
	}
	if v := seenMD.Get("upper-case"); len(v) != 1 || v[0] != "u" {
		t.Errorf("upper-case %q", v)
	}
	for _, k := range []string{"dapr-content-type", "dapr-authority", "dapr-user-agent", "dapr-api-token"} {
		if v := seenMD.Get(k); len(v) > 0 {
			t.Errorf("metadata %s present: %q", k, v)
		}
	}
}

func TestGRPCErrorStatus(t *testing.T) {
	ch := startGRPCApp(t, &grpcApp{}, nil, Config{})
	resp, err := ch.Invoke(context.Background(), newTestRequest("fail", commonv1.HTTPExtension_NONE, "", "", nil, nil))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	readAllClose(t, resp.Body)
	st := resp.Message.GetStatus()
	if st.GetCode() != int32(codes.NotFound) || st.GetMessage() != "no such thing" {
		t.Errorf("status %v", st)
	}
	if v := resp.Message.GetTrailers()["x-t"].GetValues(); len(v) != 1 || v[0] != "t1" {
		t.Errorf("trailer x-t %q", v)
	}
}

func TestGRPCBodyLimits(t *testing.T) {
	ch := startGRPCApp(t, &grpcApp{}, nil, Config{MaxResponseBodySize: 10, MaxConcurrency: 1})
	tests := []struct {
		name   string
		method string
		body   string
		tooBig bool
	}{
		{"request too large", "echo", strings.Repeat("x", 11), true},
		{"response too large", "big", "", true},
		{"fits", "echo", "abc", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ch.Invoke(context.Background(), newTestRequest(tc.method, commonv1.HTTPExtension_POST, "", "", nil, strings.NewReader(tc.body)))
			if tc.tooBig {
				if !errors.Is(err, ErrBodyTooLarge) {
					t.Fatalf("err %v, want ErrBodyTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got := readAllClose(t, resp.Body); got != "echo:abc" {
				t.Errorf("body %q", got)
			}
		})
	}
}

func TestGRPCS(t *testing.T) {
	cert := testCert(t)
	ch := startGRPCApp(t, &grpcApp{}, &cert, Config{})
	if ch.Protocol() != "grpcs" {
		t.Fatalf("protocol %q", ch.Protocol())
	}
	resp, err := ch.Invoke(context.Background(), newTestRequest("m", commonv1.HTTPExtension_POST, "", "", nil, strings.NewReader("tls")))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if got := readAllClose(t, resp.Body); got != "echo:tls" || resp.Message.GetStatus().GetCode() != 0 {
		t.Errorf("body %q status %v", got, resp.Message.GetStatus())
	}
}

func TestGRPCCancelledIsError(t *testing.T) {
	ch := startGRPCApp(t, &grpcApp{}, nil, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ch.Invoke(ctx, newTestRequest("m", commonv1.HTTPExtension_POST, "", "", nil, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// The channel sends a gRPC app no PINGs of its own: gRPC's bandwidth-delay
// probing would follow the answer of every call with one, which the app
// must acknowledge.
func TestGRPCChannelSendsNoBandwidthPings(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := testutil.NewRecordingListener(ln)
	srv := grpc.NewServer()
	runtimev1.RegisterAppCallbackServer(srv, &grpcApp{})
	go func() { _ = srv.Serve(rec) }()
	defer srv.Stop()
	cfg := Config{Protocol: "grpc"}
	cfg.Address, cfg.Port = hostPort(t, ln.Addr().String())
	ch, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	for range 5 {
		req := newTestRequest("m", commonv1.HTTPExtension_POST, "", "text/plain", nil, strings.NewReader(strings.Repeat("x", 1024)))
		resp, err := ch.Invoke(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		readAllClose(t, resp.Body)
	}
	ch.Close()
	srv.Stop()
	sent, _ := rec.Traffic()
	testutil.ExpectNoH2Pings(t, sent, "over 5 calls, the channel")
}
