package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/outrigger/outrigger/compat/harness"
)

// Callee apps for the service invocation scenarios, written with the Go
// SDK's own service packages. Both register the same handlers:
//
//	echo, api/v1/echo  answer with an echoReply describing the request
//	fail               returns errFail
const (
	echoContentType = "application/vnd.compat.echo+json"
	customHeader    = "x-compat-custom"
	// seenCallerHeader is set by the gRPC app on proxied health calls to
	// the dapr-caller-app-id it received, so the caller can see it.
	seenCallerHeader = "x-compat-seen-caller"
	// healthService is a health-checked service name of the gRPC app.
	healthService = "compat.Echo"
)

var errFail = errors.New("compat failure")

// echoReply is what the echo handler saw.
type echoReply struct {
	Verb        string `json:"verb"`
	Query       string `json:"query"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
	Caller      string `json:"caller"`
	Callee      string `json:"callee"`
	Custom      string `json:"custom"`
	// ForwardedHost is X-Forwarded-Host, the caller sidecar's hostname.
	ForwardedHost string `json:"forwardedHost"`
}

func echoHandler(ctx context.Context, in *common.InvocationEvent) (*common.Content, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r := echoReply{
		Verb:          in.Verb,
		Query:         in.QueryString,
		ContentType:   in.ContentType,
		Data:          in.Data,
		Caller:        first(md, "dapr-caller-app-id"),
		Callee:        first(md, "dapr-callee-app-id"),
		Custom:        first(md, customHeader),
		ForwardedHost: first(md, "x-forwarded-host"),
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode echo reply: %w", err)
	}
	return &common.Content{Data: b, ContentType: echoContentType}, nil
}

func failHandler(context.Context, *common.InvocationEvent) (*common.Content, error) {
	return nil, errFail
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func addHandlers(t *testing.T, s common.Service) {
	t.Helper()
	for _, m := range []string{"echo", "api/v1/echo"} {
		if err := s.AddServiceInvocationHandler(m, echoHandler); err != nil {
			t.Fatalf("add %s handler: %v", m, err)
		}
	}
	if err := s.AddServiceInvocationHandler("fail", failHandler); err != nil {
		t.Fatalf("add fail handler: %v", err)
	}
}

// startGoHTTPApp runs a go-sdk HTTP service on a free port and returns it.
// Register it before its sidecar so it is stopped after it.
func startGoHTTPApp(t *testing.T) int {
	t.Helper()
	port := harness.FreePort(t)
	s := daprhttp.NewService(harness.LoopbackAddr(port))
	addHandlers(t, s)
	served := make(chan error, 1)
	go func() { served <- s.Start() }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop HTTP app: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("HTTP app: %v", err)
		}
	})
	return port
}

// grpcApp is a go-sdk gRPC service that also serves plain gRPC services,
// reached through the sidecars' gRPC proxy: grpc.health.v1.Health and
// compat.EchoStream.
type grpcApp struct {
	port   int
	health *health.Server
}

func startGoGRPCApp(t *testing.T) *grpcApp {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for gRPC app: %v", err)
	}
	s := daprgrpc.NewServiceWithListener(lis, grpc.ChainUnaryInterceptor(echoCaller))
	addHandlers(t, s)
	app := &grpcApp{port: lis.Addr().(*net.TCPAddr).Port, health: health.NewServer()}
	app.health.SetServingStatus(healthService, healthpb.HealthCheckResponse_SERVING)
	srv, ok := s.(interface{ GrpcServer() *grpc.Server })
	if !ok {
		t.Fatalf("go-sdk gRPC service %T does not expose its grpc.Server", s)
	}
	healthpb.RegisterHealthServer(srv.GrpcServer(), app.health)
	srv.GrpcServer().RegisterService(&echoStreamDesc, nil)

	served := make(chan error, 1)
	go func() { served <- s.Start() }()
	t.Cleanup(func() {
		// Its sidecar is already stopped: nothing is in flight.
		if err := s.Stop(); err != nil {
			t.Errorf("stop gRPC app: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("gRPC app: %v", err)
		}
	})
	return app
}

// echoCaller answers health calls with a header carrying the caller app id
// the callee sidecar added, so proxying of metadata can be checked.
func echoCaller(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if strings.HasPrefix(info.FullMethod, "/grpc.health.v1.Health/") {
		md, _ := metadata.FromIncomingContext(ctx)
		if err := grpc.SetHeader(ctx, metadata.Pairs(seenCallerHeader, first(md, "dapr-caller-app-id"))); err != nil {
			return nil, fmt.Errorf("set header: %w", err)
		}
	}
	return h(ctx, req)
}
