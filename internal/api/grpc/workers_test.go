package grpc_test

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
)

// Calls run on the server's kept handler goroutines, not a fresh one
// each: a fresh goroutine's stack is copied as it grows through a proxied
// call, which cost a sixth of the caller sidecar's CPU.
func TestCallsRunOnKeptGoroutines(t *testing.T) {
	onWorker := make(chan bool, 1)
	srv := apigrpc.NewServer(apigrpc.Config{
		Core: api.New(api.Config{AppID: "myapp"}),
		ExtraOptions: []grpc.ServerOption{grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
			buf := make([]byte, 64<<10)
			onWorker <- strings.Contains(string(buf[:runtime.Stack(buf, false)]), "serverWorker")
			return nil
		})},
	})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The handler answers nothing, so the call itself fails; only where
	// it ran matters.
	_ = conn.Invoke(t.Context(), "/some.App/Method", &emptypb.Empty{}, &emptypb.Empty{})
	if !<-onWorker {
		t.Fatal("the call ran on a goroutine of its own, not on a kept handler goroutine")
	}
}
