package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

func (s *Server) GetSecret(ctx context.Context, req *runtimev1.GetSecretRequest) (*runtimev1.GetSecretResponse, error) {
	return s.core.GetSecret(ctx, req)
}

func (s *Server) GetBulkSecret(ctx context.Context, req *runtimev1.GetBulkSecretRequest) (*runtimev1.GetBulkSecretResponse, error) {
	return s.core.GetBulkSecret(ctx, req)
}
