package sidecar

import (
	"context"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"log/slog"
	"time"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/delivery"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// newDelivery builds the pub/sub delivery engine: it starts subscriptions
// once the app is reachable, and serves streaming subscriptions at once.
func newDelivery(opts options.Options, set *resources.Set, comps *loaded, inv *invocation, res *resiliency.Provider, mt *metrics.Metrics, log *slog.Logger) (*delivery.Engine, error) {
	byName := make(map[string]*pubsub.Component, len(comps.pubsubs))
	for _, p := range comps.pubsubs {
		byName[p.Name] = p
	}
	return delivery.New(delivery.Config{
		AppID: opts.AppID, PubSubs: byName, Channel: inv.channel, Health: inv.health,
		Declarative: set.Subscriptions, AppAPIToken: opts.AppAPIToken, MaxConcurrency: opts.AppMaxConcurrency,
		Retry: inboundRetry(res, resiliency.Pubsub), Metrics: mt, Tracing: inv.tracing, Logger: log,
	})
}

// stopDelivery stops taking messages and lets deliveries in flight finish
// within the grace period, before the servers and brokers close.
func stopDelivery(e *delivery.Engine, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		log.Warn("pub/sub deliveries did not finish in time", "error", err)
	}
}

// newInputBindings builds the input-binding engine; it starts with the
// pub/sub subscriptions once the app is reachable.
func newInputBindings(opts options.Options, comps *loaded, inv *invocation, core *api.Core, res *resiliency.Provider, mt *metrics.Metrics, log *slog.Logger) *inputs.Engine {
	return inputs.New(inputs.Config{
		Bindings: comps.inputs, Channel: inv.channel, Health: inv.health,
		AppAPIToken: opts.AppAPIToken, MaxConcurrency: opts.AppMaxConcurrency,
		OptionsTimeout: opts.AppBindingOptionsTimeout,
		SendToOutput:   core.SendToOutputBinding,
		SaveState: func(ctx context.Context, store string, items []*commonv1.StateItem) error {
			return core.SaveState(ctx, &runtimev1.SaveStateRequest{StoreName: store, States: items})
		},
		Retry:   measuredInbound(mt, inboundRetry(res, resiliency.Binding), mt.InputBindingEvent),
		Tracing: inv.tracing,
		Logger:  log,
	})
}

// stopInputBindings stops reading and lets deliveries in flight finish.
func stopInputBindings(e *inputs.Engine, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		log.Warn("input binding deliveries did not finish in time", "error", err)
	}
}
