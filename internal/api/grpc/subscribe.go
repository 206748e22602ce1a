package grpc

import (
	"context"
	"errors"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/pubsub/delivery"
)

// Streamer runs streaming subscriptions (implemented by the delivery engine).
type Streamer interface {
	Stream(ctx context.Context, initial *runtimev1.SubscribeTopicEventsRequestInitialAlpha1,
		send func(*runtimev1.SubscribeTopicEventsResponseAlpha1) error,
		recv func() (*runtimev1.SubscribeTopicEventsRequestAlpha1, error)) error
}

// SubscribeTopicEventsAlpha1 is a streaming subscription: events flow to
// the client over this stream, no app port needed.
func (s *Server) SubscribeTopicEventsAlpha1(stream runtimev1.Dapr_SubscribeTopicEventsAlpha1Server) error {
	if s.streamer == nil {
		return status.Error(codes.FailedPrecondition, "pubsub is not configured")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	err = s.streamer.Stream(stream.Context(), first.GetInitialRequest(), stream.Send, stream.Recv)
	return streamStatus(err)
}

// streamStatus maps the engine's validation errors to gRPC codes.
func streamStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, delivery.ErrInitialRequired), errors.Is(err, delivery.ErrPubsubRequired), errors.Is(err, delivery.ErrTopicRequired):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, delivery.ErrPubsubNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, delivery.ErrTopicForbidden):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, delivery.ErrStopped):
		return status.Error(codes.Unavailable, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}
