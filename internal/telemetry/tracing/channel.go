package tracing

import (
	"context"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// WrapChannel returns ch with the trace context of each call's ctx put on
// the request (traceparent, tracestate, grpc-trace-bin), overriding what
// the caller sent: the app sees the span of the sidecar that calls it. Nil
// stays nil.
func WrapChannel(ch appchannel.Channel) appchannel.Channel {
	if ch == nil {
		return nil
	}
	return tracedChannel{ch}
}

type tracedChannel struct{ appchannel.Channel }

func (c tracedChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	if req != nil && req.Message != nil && SpanContext(ctx).IsValid() {
		if req.Message.Metadata == nil {
			req.Message.Metadata = map[string]*internalsv1.ListStringValue{}
		}
		InjectMetadata(ctx, req.Message.Metadata)
	}
	return c.Channel.Invoke(ctx, req)
}
