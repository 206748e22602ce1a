package grpc_test

import (
	"context"
	"net"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
)

func newClient(t *testing.T, token string) runtimev1.DaprClient {
	t.Helper()
	s := memory.New()
	if err := s.Init(context.Background(), state.Metadata{Name: "store"}); err != nil {
		t.Fatal(err)
	}
	keys, _ := state.NewKeyScheme("", "myapp", "store", "")
	core := api.New(api.Config{AppID: "myapp", StateStores: []*state.Component{state.NewComponent("store", "state.in-memory", "v1", s, keys, false)}})
	srv := apigrpc.NewServer(apigrpc.Config{Core: core, APIToken: token})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); _ = s.Close() })
	return runtimev1.NewDaprClient(conn)
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

func TestStateOverGRPC(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, "")
	raw := []byte{0xff, 0x00, 0x01}
	if _, err := c.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: "store", States: []*commonv1.StateItem{{Key: "bin", Value: raw}}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "bin"})
	if err != nil || string(got.GetData()) != string(raw) || got.GetEtag() == "" {
		t.Fatalf("get = %v, %v", got, err)
	}
	missing, err := c.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "nope"})
	if err != nil || len(missing.GetData()) != 0 {
		t.Fatalf("missing key = %v, %v", missing, err)
	}

	tests := []struct {
		name       string
		call       func() error
		wantCode   codes.Code
		wantReason string
	}{
		{"stale etag", func() error {
			_, err := c.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: "store", States: []*commonv1.StateItem{{Key: "bin", Value: raw, Etag: &commonv1.Etag{Value: "999"}}}})
			return err
		}, codes.Aborted, "ERR_STATE_SAVE"},
		{"invalid etag", func() error {
			_, err := c.DeleteState(ctx, &runtimev1.DeleteStateRequest{StoreName: "store", Key: "bin", Etag: &commonv1.Etag{Value: "x"}})
			return err
		}, codes.InvalidArgument, "ERR_STATE_DELETE"},
		{"empty key", func() error {
			_, err := c.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: "store", States: []*commonv1.StateItem{{Value: raw}}})
			return err
		}, codes.InvalidArgument, "ERR_STATE_SAVE"},
		{"unknown store", func() error {
			_, err := c.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "x", Key: "a"})
			return err
		}, codes.InvalidArgument, "DAPR_STATE_NOT_FOUND"},
		{"illegal key", func() error {
			_, err := c.GetState(ctx, &runtimev1.GetStateRequest{StoreName: "store", Key: "a||b"})
			return err
		}, codes.InvalidArgument, "DAPR_STATE_ILLEGAL_KEY"},
		{"tx stale etag", func() error {
			_, err := c.ExecuteStateTransaction(ctx, &runtimev1.ExecuteStateTransactionRequest{StoreName: "store", Operations: []*runtimev1.TransactionalStateOperation{
				{OperationType: "upsert", Request: &commonv1.StateItem{Key: "t", Value: raw, Etag: &commonv1.Etag{Value: "999"}}}}})
			return err
		}, codes.Internal, "ERR_STATE_TRANSACTION"},
		{"tx bad op", func() error {
			_, err := c.ExecuteStateTransaction(ctx, &runtimev1.ExecuteStateTransactionRequest{StoreName: "store", Operations: []*runtimev1.TransactionalStateOperation{
				{OperationType: "merge", Request: &commonv1.StateItem{Key: "t"}}}})
			return err
		}, codes.Unimplemented, "ERR_NOT_SUPPORTED_STATE_OPERATION"},
		{"json content type with invalid json", func() error {
			_, err := c.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: "store", States: []*commonv1.StateItem{{Key: "j", Value: []byte("{bad"), Metadata: map[string]string{"contentType": "application/json"}}}})
			return err
		}, codes.InvalidArgument, "ERR_STATE_SAVE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status.Code(err) != tt.wantCode || reason(err) != tt.wantReason {
				t.Fatalf("got %v (reason %q), want %v/%s", err, reason(err), tt.wantCode, tt.wantReason)
			}
		})
	}
}

func TestTokenOverGRPC(t *testing.T) {
	c := newClient(t, "secret")
	_, err := c.GetMetadata(context.Background(), &runtimev1.GetMetadataRequest{})
	if status.Code(err) != codes.Unauthenticated || reason(err) != "Unauthorized" {
		t.Fatalf("no token: %v", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "dapr-api-token", "secret")
	if _, err := c.GetMetadata(ctx, &runtimev1.GetMetadataRequest{}); err != nil {
		t.Fatalf("with token: %v", err)
	}
}
