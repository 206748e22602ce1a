package sidecar

import (
	"context"
	"log/slog"
	"time"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/outbox"
	"github.com/outrigger/outrigger/internal/resiliency"
)

// startOutbox checks the outbox settings of the state stores against the
// loaded components and starts relaying their internal topics. It returns
// nil when no store enables the outbox. It must run before the API serves:
// a transaction's internal message needs its subscriber.
func startOutbox(ctx context.Context, opts options.Options, comps *loaded, res *resiliency.Provider, log *slog.Logger) (*outbox.Outbox, error) {
	if len(comps.outboxes) == 0 {
		return nil, nil
	}
	box, err := outbox.New(outbox.Config{
		AppID: opts.AppID, Namespace: opts.Namespace, Stores: comps.outboxes,
		StateStores: comps.stateStores, PubSubs: comps.pubsubs, Resiliency: res, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	if err := box.Start(ctx); err != nil {
		return nil, err
	}
	return box, nil
}

// stopOutbox ends the relay after the API has drained, so the transactions
// it finished are relayed; messages still in flight at the deadline are
// redelivered by the broker later.
func stopOutbox(box *outbox.Outbox, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := box.Stop(ctx); err != nil {
		log.Warn("outbox relay did not finish in time", "error", err)
	}
}
