package grpc_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"sync"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/bindings"
)

// outputRecorder echoes "create", answers nothing to "delete" and fails
// "get" with response metadata.
type outputRecorder struct {
	mu   sync.Mutex
	last bindings.InvokeRequest
}

func (o *outputRecorder) Init(context.Context, bindings.Metadata) error { return nil }
func (o *outputRecorder) Operations() []string                          { return []string{"create", "get", "delete"} }
func (o *outputRecorder) Close() error                                  { return nil }

func (o *outputRecorder) Invoke(_ context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	o.mu.Lock()
	o.last = bindings.InvokeRequest{Operation: req.Operation, Data: req.Data, Metadata: maps.Clone(req.Metadata)}
	o.mu.Unlock()
	switch req.Operation {
	case "delete":
		return nil, nil
	case "get":
		return &bindings.InvokeResponse{Metadata: map[string]string{"statusCode": "503"}}, errors.New("received status code 503")
	}
	return &bindings.InvokeResponse{Data: req.Data, Metadata: map[string]string{"echo": "yes"}}, nil
}

func (o *outputRecorder) request() bindings.InvokeRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func newBindingClient(t *testing.T) (runtimev1.DaprClient, *outputRecorder) {
	t.Helper()
	rec := &outputRecorder{}
	core := api.New(api.Config{AppID: "myapp", Outputs: []*api.OutputBinding{{Name: "out", Type: "bindings.test", Version: "v1", Binding: rec}}})
	srv := apigrpc.NewServer(apigrpc.Config{Core: core})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimev1.NewDaprClient(conn), rec
}

func TestInvokeBindingGRPC(t *testing.T) {
	c, rec := newBindingClient(t)
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx := metadata.AppendToOutgoingContext(context.Background(), "traceparent", tp, "baggage", "k=v")
	// Data is passed raw: no JSON re-encoding over gRPC.
	res, err := c.InvokeBinding(ctx, &runtimev1.InvokeBindingRequest{Name: "out", Operation: "create", Data: []byte("x"), Metadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.GetData()) != "x" || res.GetMetadata()["echo"] != "yes" {
		t.Fatalf("response %v", res)
	}
	got := rec.request()
	if string(got.Data) != "x" || got.Metadata["a"] != "b" || got.Metadata["traceparent"] != tp || got.Metadata["baggage"] != "k=v" {
		t.Fatalf("binding got %q %v", got.Data, got.Metadata)
	}

	res, err = c.InvokeBinding(context.Background(), &runtimev1.InvokeBindingRequest{Name: "out", Operation: "delete"})
	if err != nil || len(res.GetData()) != 0 || len(res.GetMetadata()) != 0 {
		t.Fatalf("no response = %v, %v", res, err)
	}

	tests := []struct {
		name string
		ctx  context.Context
		req  *runtimev1.InvokeBindingRequest
		code codes.Code
		msg  string
	}{
		{"component error", context.Background(), &runtimev1.InvokeBindingRequest{Name: "out", Operation: "get"}, codes.Internal, "error invoking output binding out: received status code 503"},
		{"unknown binding", context.Background(), &runtimev1.InvokeBindingRequest{Name: "nope", Operation: "create"}, codes.Internal, "error invoking output binding nope: couldn't find output binding nope"},
		{"no operation", context.Background(), &runtimev1.InvokeBindingRequest{Name: "out"}, codes.Internal, "error invoking output binding out: operation field is missing from request"},
		{"bad baggage", metadata.AppendToOutgoingContext(context.Background(), "baggage", "nope"), &runtimev1.InvokeBindingRequest{Name: "out", Operation: "create"}, codes.InvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.InvokeBinding(tt.ctx, tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code || (tt.msg != "" && st.Message() != tt.msg) {
				t.Fatalf("got %v", err)
			}
			if tt.code == codes.Internal && reason(err) != "ERR_INVOKE_OUTPUT_BINDING" {
				t.Fatalf("reason %q", reason(err))
			}
		})
	}
}
