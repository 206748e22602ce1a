package grpc

import (
	"context"

	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/api/apiaccess"
	"github.com/outrigger/outrigger/internal/api/apierr"
)

// AccessOptions returns server options that refuse the Dapr API methods the
// Configuration's spec.api lists took out; none when rules is nil.
func AccessOptions(rules *apiaccess.Rules) []grpc.ServerOption {
	if rules == nil {
		return nil
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if !rules.GRPCAllowed(info.FullMethod) {
			return nil, apierr.GRPCAPIBlocked()
		}
		return next(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		if !rules.GRPCAllowed(info.FullMethod) {
			return apierr.GRPCAPIBlocked()
		}
		return next(srv, ss)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}
