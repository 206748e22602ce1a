package api

import (
	"context"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
)

// Invoker performs service invocation (implemented by internal/invoke).
type Invoker interface {
	Invoke(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error)
}

// Invoke calls another app (or this one) by app id, HTTPEndpoint name or URL.
// The response body is streamed; the caller must close it.
func (c *Core) Invoke(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error) {
	if c.invoker == nil {
		return nil, apierr.InvokeNotReady()
	}
	return c.invoker.Invoke(ctx, appID, req)
}
