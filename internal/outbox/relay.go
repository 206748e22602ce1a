package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

// Marker polling: the first re-check comes soon (the commit usually lands
// within milliseconds of the internal publish), later ones back off.
const (
	firstPoll = 20 * time.Millisecond
	maxPoll   = time.Second

	markerDeleteTimeout = 5 * time.Second
)

var errStopped = errors.New("outbox: stopped")

// Start subscribes to every internal topic, in the app's consumer group.
// It returns once the subscriptions are established, so transactions
// started afterwards are relayed. Call it before serving the API: some
// brokers drop messages published while nobody subscribes.
func (o *Outbox) Start(ctx context.Context) error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped || o.stopSubs != nil {
		return errors.New("outbox: already started")
	}
	// The subscriptions outlive ctx: they run until Stop, so transactions
	// still draining at shutdown are relayed.
	subCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	o.stopSubs = cancel
	for _, r := range o.routes {
		req := pubsub.SubscribeRequest{Topic: r.pubsub.Topic(r.topic), Metadata: map[string]string{pubsub.MetaConsumerID: o.appID}}
		if err := r.pubsub.Broker.Subscribe(subCtx, req, o.handle); err != nil {
			cancel()
			return fmt.Errorf("outbox: subscribing to internal topic %s of pub/sub %s: %w", r.topic, r.pubsub.Name, err)
		}
		o.log.Info("outbox relay subscribed", "pubsub", r.pubsub.Name, "topic", r.topic)
	}
	return nil
}

// Stop ends the internal subscriptions and waits, until ctx is done, for
// the messages being handled; unfinished ones are redelivered later.
func (o *Outbox) Stop(ctx context.Context) error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	o.stopped = true
	if o.stopSubs != nil {
		o.stopSubs()
	}
	o.mu.Unlock()
	done := make(chan struct{})
	go func() { o.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("outbox: messages still in flight: %w", ctx.Err())
	}
}

// enter counts a handler in flight, unless the outbox is stopping.
func (o *Outbox) enter() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return false
	}
	o.inflight.Add(1)
	return true
}

// handle relays one internal message. Returning an error makes the broker
// redeliver it; nil acknowledges it.
func (o *Outbox) handle(ctx context.Context, msg *pubsub.Message) error {
	if !o.enter() {
		return errStopped
	}
	defer o.inflight.Done()
	m, err := decodeMessage(msg.Data)
	if err != nil {
		// Redelivering cannot fix it.
		o.log.Warn("dropping unreadable outbox message", "topic", msg.Topic, "error", err)
		return nil
	}
	so := o.stores[m.Store]
	if so == nil {
		o.log.Warn("dropping outbox message for a store without an outbox here", "store", m.Store, "txid", m.TxID)
		return nil
	}
	committed, err := o.awaitMarker(ctx, so, m)
	if err != nil {
		return err
	}
	if !committed {
		o.pending.forget(m.TxID)
		o.dropped.Add(1)
		o.log.Debug("dropping outbox message: its transaction did not commit", "store", m.Store, "txid", m.TxID)
		return nil
	}
	if err := o.publishEvents(ctx, so, m); err != nil {
		return err
	}
	o.pending.forget(m.TxID)
	// The events are out: the message is acknowledged even if the marker
	// stays behind (redelivering it would only publish them again), and
	// the delete runs even when the relay is stopping.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markerDeleteTimeout)
	defer cancel()
	del := state.DeleteRequest{Key: m.Marker, Metadata: m.MarkerMetadata}
	if err := so.store.Store.Delete(dctx, del); err != nil {
		o.log.Warn("outbox marker not deleted", "store", m.Store, "key", m.Marker, "error", err)
	}
	o.relayed.Add(1)
	return nil
}

// awaitMarker reports whether the message's transaction committed, i.e.
// its marker exists. A transaction this sidecar started is awaited until
// Multi returns; another's (a replica's, or one from before a restart) is
// polled until the marker wait has passed since the message was created,
// or checked once when outboxDiscardWhenMissingState is set.
func (o *Outbox) awaitMarker(ctx context.Context, so *storeOutbox, m *message) (bool, error) {
	settled := o.pending.watch(m.TxID)
	deadline := m.Created.Add(o.markerWait)
	poll := firstPoll
	for {
		// Read before the store: a transaction that settled before the
		// read has its marker visible to it.
		wasSettled := isClosed(settled)
		found, err := so.markerExists(ctx, m)
		if err != nil || found {
			return found, err
		}
		local := settled != nil
		switch {
		case wasSettled:
			return false, nil
		case !local && (so.cfg.DiscardWhenMissingState || !time.Now().Before(deadline)):
			return false, nil
		}
		wait := poll
		if !local {
			wait = min(wait, time.Until(deadline))
		}
		if err := sleep(ctx, wait, settled); err != nil {
			return false, err
		}
		poll = min(poll*2, maxPoll)
	}
}

// sleep waits for d, or until wake closes or ctx ends.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
	case <-t.C:
	}
	return nil
}

func (so *storeOutbox) markerExists(ctx context.Context, m *message) (bool, error) {
	res, err := so.store.Store.Get(ctx, state.GetRequest{Key: m.Marker, Metadata: m.MarkerMetadata, Options: state.Options{Consistency: state.Strong}})
	if err != nil {
		return false, fmt.Errorf("outbox: reading marker %s of store %s: %w", m.Marker, so.cfg.Store, err)
	}
	return res.Found, nil
}

// publishEvents publishes the message's events to the user topic, in
// order. A failure makes the whole message redeliver; events already
// published are then published again (at-least-once).
func (o *Outbox) publishEvents(ctx context.Context, so *storeOutbox, m *message) error {
	topic := so.cfg.PublishTopic
	for _, ev := range m.Events {
		err := o.publish(ctx, so.publish, &pubsub.PublishRequest{Topic: topic, Data: ev, ContentType: pubsub.ContentTypeCloudEvent})
		if err != nil {
			return fmt.Errorf("outbox: publishing to topic %s of pub/sub %s: %w", topic, so.publish.Name, err)
		}
	}
	return nil
}
