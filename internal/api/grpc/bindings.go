package grpc

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/metadata"

	"github.com/outrigger/outrigger/internal/api"
)

// InvokeBinding calls an output binding with the data as sent (no JSON
// re-encoding, unlike HTTP). The caller's trace context metadata is added
// to the request metadata. "No response" is an empty response here.
func (s *Server) InvokeBinding(ctx context.Context, req *runtimev1.InvokeBindingRequest) (*runtimev1.InvokeBindingResponse, error) {
	in, _ := metadata.FromIncomingContext(ctx)
	md, err := api.TraceMetadata(req.GetMetadata(), first(in, "traceparent"), first(in, "tracestate"), first(in, "baggage"))
	if err != nil {
		return nil, err
	}
	req.Metadata = md
	res, err := s.core.InvokeBinding(ctx, req)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &runtimev1.InvokeBindingResponse{}
	}
	return res, nil
}

// first is the first value of a metadata key, or "".
func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
