package grpc

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/logging"
)

// APILoggingOptions returns server options that log one line per Dapr API
// call (--enable-api-logging), as daprd does: "gRPC API Called" in scope
// dapr.runtime.grpc-info with the full method, the user agent, the status
// code and the duration. Proxied calls to app services are not logged.
// omitHealth skips the health check methods.
func APILoggingOptions(log *slog.Logger, omitHealth bool) []grpc.ServerOption {
	log = logging.Scoped(log, "dapr.runtime.grpc-info")
	logged := func(method string) bool {
		if !strings.HasPrefix(method, "/dapr.proto.runtime.") {
			return false
		}
		return !omitHealth || !strings.HasPrefix(method, "/grpc.health.")
	}
	record := func(ctx context.Context, method string, start time.Time, err error) {
		var agent string
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("user-agent"); len(v) > 0 {
				agent = v[0]
			}
		}
		log.Info("gRPC API Called", "method", method, "useragent", agent,
			"code", status.Code(err).String(), "duration_ms", float64(time.Since(start).Microseconds())/1000)
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if !logged(info.FullMethod) {
			return next(ctx, req)
		}
		start := time.Now()
		resp, err := next(ctx, req)
		record(ctx, info.FullMethod, start, err)
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		if !logged(info.FullMethod) {
			return next(srv, ss)
		}
		start := time.Now()
		err := next(srv, ss)
		record(ss.Context(), info.FullMethod, start, err)
		return err
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}
