package api

import (
	"context"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/state"
)

// Outbox is the transactional outbox as the core uses it (implemented by
// internal/outbox): transactions on a store that enables it publish their
// committed upserts.
type Outbox interface {
	// Enabled reports whether the store has an outbox.
	Enabled(store string) bool
	// Begin runs before the commit. It returns the operations to commit in
	// place of req's and a function to call with the commit's result; an
	// error means the transaction must not run.
	Begin(ctx context.Context, store string, req state.TransactionRequest) (state.TransactionRequest, func(error), error)
}

// commit applies a transaction, through the store's outbox when it has one.
func (c *Core) commit(ctx context.Context, s *state.Component, tx state.Transactional, req state.TransactionRequest) error {
	if c.outbox == nil || !c.outbox.Enabled(s.Name) {
		if err := c.multi(ctx, s, tx, req); err != nil {
			return apierr.StateTransaction(err)
		}
		return nil
	}
	req, done, err := c.outbox.Begin(ctx, s.Name, req)
	if err != nil {
		return apierr.PublishOutbox(c.appID, err)
	}
	err = c.multi(ctx, s, tx, req)
	done(err)
	if err != nil {
		return apierr.StateTransaction(err)
	}
	return nil
}

// multi runs a transaction under the store's outbound resiliency policy.
func (c *Core) multi(ctx context.Context, s *state.Component, tx state.Transactional, req state.TransactionRequest) error {
	return c.outbound(s.Name, resiliency.Statestore).Run(ctx, func(ctx context.Context) error {
		return tx.Multi(ctx, req)
	})
}
