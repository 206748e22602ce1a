package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/state"
)

// newResiliency merges the loaded Resiliency resources (already scoped to
// this app) into the policy provider every building block uses.
func newResiliency(set *resources.Set, obs resiliency.Observer, log *slog.Logger) (*resiliency.Provider, error) {
	p, err := resiliency.New(set.Resiliencies, resiliency.Options{Logger: log, Observer: obs, Permanent: unretriable})
	if err != nil {
		return nil, fmt.Errorf("resiliency: %w", err)
	}
	return p, nil
}

// unretriable marks component errors that no retry can fix: a stale or
// malformed ETag, an invalid request.
func unretriable(err error) bool {
	if _, ok := state.AsETagError(err); ok {
		return true
	}
	var invalid *state.InvalidRequestError
	return errors.As(err, &invalid)
}

// inboundRetry runs deliveries of a component's events to the app under
// the component's inbound policy.
func inboundRetry(p *resiliency.Provider, kind resiliency.ComponentKind) func(ctx context.Context, name string, op func(context.Context) error) error {
	return func(ctx context.Context, name string, op func(context.Context) error) error {
		return p.ComponentInbound(name, kind).Run(ctx, op)
	}
}
