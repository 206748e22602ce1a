package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

// The configuration API; the Alpha1 methods are the same calls under
// their old names.

func (s *Server) GetConfiguration(ctx context.Context, req *runtimev1.GetConfigurationRequest) (*runtimev1.GetConfigurationResponse, error) {
	return s.core.GetConfiguration(ctx, req)
}

func (s *Server) GetConfigurationAlpha1(ctx context.Context, req *runtimev1.GetConfigurationRequest) (*runtimev1.GetConfigurationResponse, error) {
	return s.core.GetConfiguration(ctx, req)
}

// SubscribeConfiguration streams the subscription id, then the updates,
// until the client leaves or UnsubscribeConfiguration ends the stream.
func (s *Server) SubscribeConfiguration(req *runtimev1.SubscribeConfigurationRequest, stream runtimev1.Dapr_SubscribeConfigurationServer) error {
	return s.core.SubscribeConfiguration(stream.Context(), req, stream.Send)
}

func (s *Server) SubscribeConfigurationAlpha1(req *runtimev1.SubscribeConfigurationRequest, stream runtimev1.Dapr_SubscribeConfigurationAlpha1Server) error {
	return s.core.SubscribeConfiguration(stream.Context(), req, stream.Send)
}

func (s *Server) UnsubscribeConfiguration(ctx context.Context, req *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error) {
	return s.core.UnsubscribeConfiguration(ctx, req)
}

func (s *Server) UnsubscribeConfigurationAlpha1(ctx context.Context, req *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error) {
	return s.core.UnsubscribeConfiguration(ctx, req)
}
