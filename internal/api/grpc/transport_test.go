package grpc_test

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/testutil"
)

// The API server sends its clients no PINGs of its own: gRPC's
// bandwidth-delay probing would answer the data of every call with a
// WINDOW_UPDATE and a PING, one more write per call (see invoke.FlowWindow).
func TestAPIServerSendsNoBandwidthPings(t *testing.T) {
	srv := apigrpc.NewServer(apigrpc.Config{
		Core: api.New(api.Config{AppID: "myapp"}),
		ExtraOptions: []grpc.ServerOption{grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
			var m wrapperspb.BytesValue
			if err := s.RecvMsg(&m); err != nil {
				return err
			}
			return s.SendMsg(&m)
		})},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := testutil.NewRecordingListener(ln)
	go func() { _ = srv.Serve(rec) }()
	defer srv.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	in := wrapperspb.Bytes(make([]byte, 1024))
	for range 5 {
		var out wrapperspb.BytesValue
		if err := conn.Invoke(t.Context(), "/some.App/Echo", in, &out); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	srv.Stop()
	_, written := rec.Traffic()
	testutil.ExpectNoH2Pings(t, written, "over 5 calls, the server")
}
