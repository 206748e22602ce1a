package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

func (s *Server) TryLockAlpha1(ctx context.Context, req *runtimev1.TryLockRequest) (*runtimev1.TryLockResponse, error) {
	return s.core.TryLock(ctx, req)
}

func (s *Server) UnlockAlpha1(ctx context.Context, req *runtimev1.UnlockRequest) (*runtimev1.UnlockResponse, error) {
	return s.core.Unlock(ctx, req)
}
