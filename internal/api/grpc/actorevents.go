package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ActorStreamer hosts the actors of a gRPC app over its
// SubscribeActorEventsAlpha1 stream (implemented by internal/actors/app's
// StreamHost). Serve's errors are already gRPC statuses.
type ActorStreamer interface {
	Serve(ctx context.Context, initial *runtimev1.SubscribeActorEventsRequestInitialAlpha1,
		send func(*runtimev1.SubscribeActorEventsResponseAlpha1) error,
		recv func() (*runtimev1.SubscribeActorEventsRequestAlpha1, error)) error
}

// SubscribeActorEventsAlpha1 is how a gRPC app hosts actors: it opens this
// stream, registers its actor types in the first message and answers the
// calls the sidecar sends down the stream.
func (s *Server) SubscribeActorEventsAlpha1(stream runtimev1.Dapr_SubscribeActorEventsAlpha1Server) error {
	if s.actorEvents == nil {
		return status.Error(codes.FailedPrecondition, "actor callback streaming requires a gRPC app channel")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	return s.actorEvents.Serve(stream.Context(), first.GetInitialRequest(), stream.Send, stream.Recv)
}
