package grpc

import (
	"context"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/outrigger/outrigger/internal/invoke"
)

// InvokeService is the deprecated unary invocation API; SDKs now use gRPC
// proxying, which the unknown-service handler serves.
func (s *Server) InvokeService(ctx context.Context, in *runtimev1.InvokeServiceRequest) (*commonv1.InvokeResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	resp, err := s.core.Invoke(ctx, in.GetId(), invoke.RequestFromGRPC(in, md))
	if err != nil {
		return nil, err
	}
	out, header, trailer, err := invoke.InvokeServiceResponse(in.GetId(), resp, s.maxBody)
	if len(header) > 0 {
		_ = grpc.SetHeader(ctx, header)
	}
	if len(trailer) > 0 {
		_ = grpc.SetTrailer(ctx, trailer)
	}
	return out, err
}
