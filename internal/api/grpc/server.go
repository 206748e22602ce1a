// Package grpc serves the Dapr gRPC API (dapr.proto.runtime.v1.Dapr) on top
// of the transport-neutral core. Methods of building blocks that don't exist
// yet answer Unimplemented.
package grpc

import (
	"context"
	"crypto/subtle"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/invoke"
)

// Config wires the gRPC API.
type Config struct {
	Core           *api.Core
	APIToken       string
	MaxBodySize    int64 // max message size in bytes; <=0 = gRPC's default
	ReadBufferSize int   // header list size in bytes; <=0 = default
	// ForceExit ends the process at once (Shutdown with dapr-force-shutdown).
	ForceExit func()
	// Streamer serves streaming subscriptions; nil answers FailedPrecondition.
	Streamer Streamer
	// ActorStreamer serves SubscribeActorEventsAlpha1 (gRPC apps hosting
	// actors); nil answers FailedPrecondition.
	ActorStreamer ActorStreamer
	// ExtraOptions are added to the server (the gRPC proxy's unknown-service
	// handler and codec).
	ExtraOptions []grpc.ServerOption
}

// Server implements runtimev1.DaprServer.
type Server struct {
	runtimev1.UnimplementedDaprServer
	core     *api.Core
	exit     func()
	maxBody  int64
	streamer Streamer
	// actorEvents serves SubscribeActorEventsAlpha1.
	actorEvents ActorStreamer
}

// NewServer builds a grpc.Server with the Dapr service registered.
func NewServer(cfg Config) *grpc.Server {
	// Handler goroutines are kept, and flow-control windows fixed, as on
	// the internal server: see invoke.StreamWorkers and invoke.FlowWindow.
	opts := []grpc.ServerOption{invoke.StreamWorkers(),
		grpc.InitialWindowSize(invoke.FlowWindow), grpc.InitialConnWindowSize(invoke.FlowWindow)}
	if cfg.MaxBodySize > 0 {
		opts = append(opts, grpc.MaxRecvMsgSize(int(cfg.MaxBodySize)), grpc.MaxSendMsgSize(int(cfg.MaxBodySize)))
	}
	if cfg.ReadBufferSize > 0 {
		opts = append(opts, grpc.MaxHeaderListSize(uint32(cfg.ReadBufferSize)*1024))
	}
	if cfg.APIToken != "" {
		a := tokenAuth{token: []byte(cfg.APIToken)}
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	opts = append(opts, cfg.ExtraOptions...)
	s := grpc.NewServer(opts...)
	runtimev1.RegisterDaprServer(s, &Server{core: cfg.Core, exit: cfg.ForceExit, maxBody: cfg.MaxBodySize, streamer: cfg.Streamer, actorEvents: cfg.ActorStreamer})
	return s
}

// tokenAuth enforces DAPR_API_TOKEN on every call.
type tokenAuth struct{ token []byte }

func (a tokenAuth) check(ctx context.Context) error {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return unauthenticated("missing metadata in request")
	}
	vals := md.Get("dapr-api-token")
	if len(vals) == 0 {
		return unauthenticated("missing api token in request metadata")
	}
	if subtle.ConstantTimeCompare([]byte(vals[0]), a.token) != 1 {
		return unauthenticated("authentication error: api token mismatch")
	}
	return nil
}

func (a tokenAuth) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (a tokenAuth) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if err := a.check(ss.Context()); err != nil {
		return err
	}
	return next(srv, ss)
}

// unauthenticated builds the status daprd returns for a bad token.
func unauthenticated(detail string) error {
	if len(detail) > 63 {
		detail = detail[:63]
	}
	st, err := status.New(codes.Unauthenticated, "Unauthorized").WithDetails(&errdetails.ErrorInfo{
		Reason: "Unauthorized", Domain: apierr.Domain,
		Metadata: map[string]string{"http.code": "401", "http.error_message": detail},
	})
	if err != nil {
		return status.Error(codes.Unauthenticated, "Unauthorized")
	}
	return st.Err()
}

var empty = &emptypb.Empty{}

func (s *Server) GetState(ctx context.Context, req *runtimev1.GetStateRequest) (*runtimev1.GetStateResponse, error) {
	return s.core.GetState(ctx, req)
}

func (s *Server) GetBulkState(ctx context.Context, req *runtimev1.GetBulkStateRequest) (*runtimev1.GetBulkStateResponse, error) {
	return s.core.GetBulkState(ctx, req)
}

func (s *Server) SaveState(ctx context.Context, req *runtimev1.SaveStateRequest) (*emptypb.Empty, error) {
	return empty, s.core.SaveState(ctx, req)
}

func (s *Server) DeleteState(ctx context.Context, req *runtimev1.DeleteStateRequest) (*emptypb.Empty, error) {
	return empty, s.core.DeleteState(ctx, req)
}

func (s *Server) DeleteBulkState(ctx context.Context, req *runtimev1.DeleteBulkStateRequest) (*emptypb.Empty, error) {
	return empty, s.core.DeleteBulkState(ctx, req)
}

func (s *Server) ExecuteStateTransaction(ctx context.Context, req *runtimev1.ExecuteStateTransactionRequest) (*emptypb.Empty, error) {
	return empty, s.core.ExecuteStateTransaction(ctx, req)
}

func (s *Server) QueryStateAlpha1(ctx context.Context, req *runtimev1.QueryStateRequest) (*runtimev1.QueryStateResponse, error) {
	return s.core.QueryState(ctx, req)
}

func (s *Server) GetMetadata(ctx context.Context, req *runtimev1.GetMetadataRequest) (*runtimev1.GetMetadataResponse, error) {
	return s.core.GetMetadata(ctx, req)
}

func (s *Server) SetMetadata(ctx context.Context, req *runtimev1.SetMetadataRequest) (*emptypb.Empty, error) {
	return empty, s.core.SetMetadata(ctx, req)
}

// Shutdown starts a graceful shutdown; metadata dapr-force-shutdown: true
// exits at once with code 1, as daprd does.
func (s *Server) Shutdown(ctx context.Context, _ *runtimev1.ShutdownRequest) (*emptypb.Empty, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("dapr-force-shutdown"); len(v) > 0 && (v[0] == "true" || v[0] == "TRUE" || v[0] == "True") && s.exit != nil {
			go s.exit()
			return empty, nil
		}
	}
	s.core.Shutdown()
	return empty, nil
}
