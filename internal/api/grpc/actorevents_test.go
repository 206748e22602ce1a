package grpc_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
)

// echoActorStreamer acknowledges the stream and reports the entities it
// was given back as a deactivate request's actor type.
type echoActorStreamer struct{}

func (echoActorStreamer) Serve(_ context.Context, initial *runtimev1.SubscribeActorEventsRequestInitialAlpha1,
	send func(*runtimev1.SubscribeActorEventsResponseAlpha1) error,
	_ func() (*runtimev1.SubscribeActorEventsRequestAlpha1, error),
) error {
	if initial == nil {
		return status.Error(codes.InvalidArgument, "no initial request")
	}
	return send(&runtimev1.SubscribeActorEventsResponseAlpha1{ResponseType: &runtimev1.SubscribeActorEventsResponseAlpha1_DeactivateRequest{
		DeactivateRequest: &runtimev1.SubscribeActorEventsResponseDeactivateRequestAlpha1{ActorType: initial.GetEntities()[0]},
	}})
}

func actorEventsClient(t *testing.T, streamer apigrpc.ActorStreamer) runtimev1.DaprClient {
	t.Helper()
	srv := apigrpc.NewServer(apigrpc.Config{Core: api.New(api.Config{AppID: "myapp"}), ActorStreamer: streamer})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return runtimev1.NewDaprClient(conn)
}

func TestSubscribeActorEventsDelegates(t *testing.T) {
	tests := []struct {
		name     string
		streamer apigrpc.ActorStreamer
		wantCode codes.Code
	}{
		{"no actor streamer", nil, codes.FailedPrecondition},
		{"delegated", echoActorStreamer{}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := actorEventsClient(t, tt.streamer)
			stream, err := c.SubscribeActorEventsAlpha1(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&runtimev1.SubscribeActorEventsRequestAlpha1{RequestType: &runtimev1.SubscribeActorEventsRequestAlpha1_InitialRequest{
				InitialRequest: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{Entities: []string{"cart"}},
			}}); err != nil && !errors.Is(err, io.EOF) {
				// io.EOF: the server already ended the stream; Recv
				// returns its status.
				t.Fatal(err)
			}
			m, err := stream.Recv()
			if status.Code(err) != tt.wantCode {
				t.Fatalf("error = %v, want %v", err, tt.wantCode)
			}
			if tt.wantCode == codes.OK && m.GetDeactivateRequest().GetActorType() != "cart" {
				t.Fatalf("message = %v, want the streamer's echo of the initial request", m)
			}
		})
	}
}
