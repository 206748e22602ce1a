package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

func (s *Server) PublishEvent(ctx context.Context, req *runtimev1.PublishEventRequest) (*emptypb.Empty, error) {
	if err := s.core.PublishEvent(ctx, req); err != nil {
		return nil, apierr.PubSubForGRPC(err)
	}
	return empty, nil
}

// BulkPublishEvent answers OK even when entries failed: they are listed in
// the response's failedEntries.
func (s *Server) BulkPublishEvent(ctx context.Context, req *runtimev1.BulkPublishRequest) (*runtimev1.BulkPublishResponse, error) {
	res, err := s.core.BulkPublishEvent(ctx, req)
	if err != nil {
		return nil, apierr.PubSubForGRPC(err)
	}
	return res, nil
}

// BulkPublishEventAlpha1 is the deprecated name of BulkPublishEvent.
func (s *Server) BulkPublishEventAlpha1(ctx context.Context, req *runtimev1.BulkPublishRequest) (*runtimev1.BulkPublishResponse, error) {
	return s.BulkPublishEvent(ctx, req)
}
