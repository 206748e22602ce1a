package rabbitmq

import (
	"context"
	"fmt"
	"net/url"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/sleep"
)

// Read consumes the queue until ctx ends or the binding closes; it may be
// called again after an earlier ctx ended. Messages are handled one at a
// time, in queue order; when the channel or connection drops, consuming
// starts again after reconnectWaitInSeconds.
func (b *Binding) Read(ctx context.Context, handler bindings.EventHandler) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.wg.Add(1)
	b.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel) // Close stops every Read
	ch, deliveries, err := b.consumer()
	if err != nil {
		// Most likely the connection dropped just now: keep trying in the
		// background, as after any later drop.
		b.log.Warn("could not start consuming; retrying", "wait", b.cfg.reconnectWait, "error", err)
	}
	go func() {
		defer b.wg.Done()
		defer stop()
		defer cancel()
		b.run(ctx, ch, deliveries, handler)
	}()
	return nil
}

// run consumes, re-establishing the consumer whenever it stops, until ctx
// ends. ch is nil when the first attempt failed.
func (b *Binding) run(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery, handler bindings.EventHandler) {
	for {
		if ch != nil {
			b.consume(ctx, ch, deliveries, handler)
		}
		if ctx.Err() != nil || !sleep.For(ctx, b.cfg.reconnectWait) {
			return
		}
		var err error
		if ch, deliveries, err = b.consumer(); err != nil {
			b.log.Warn("could not resume consuming; retrying", "wait", b.cfg.reconnectWait, "error", err)
			continue
		}
		b.log.Info("consuming again")
	}
}

// consumer opens a channel, declares the queue and starts consuming it.
func (b *Binding) consumer() (*amqp.Channel, <-chan amqp.Delivery, error) {
	conn, err := b.conn.Get()
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmq binding: open channel: %w", err)
	}
	deliveries, err := b.declareAndConsume(ch)
	if err != nil {
		ch.Close()
		return nil, nil, err
	}
	return ch, deliveries, nil
}

func (b *Binding) declareAndConsume(ch *amqp.Channel) (<-chan amqp.Delivery, error) {
	if err := b.declareQueue(ch); err != nil {
		return nil, err
	}
	if b.cfg.prefetchCount > 0 {
		if err := ch.Qos(b.cfg.prefetchCount, 0, false); err != nil {
			return nil, fmt.Errorf("rabbitmq binding: set prefetch count: %w", err)
		}
	}
	deliveries, err := ch.Consume(b.cfg.queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq binding: consume queue %q: %w", b.cfg.queue, err)
	}
	return deliveries, nil
}

// consume hands deliveries to the handler until ctx ends or the channel
// closes, then closes the channel, which makes the broker requeue what
// was delivered but not yet handled.
func (b *Binding) consume(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery, handler bindings.EventHandler) {
	defer ch.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-deliveries:
			// select picks at random when both are ready: never start a
			// handler once reading is stopping.
			if !ok || ctx.Err() != nil {
				return
			}
			b.handle(ctx, d, handler)
		}
	}
}

// handle delivers one message: ack on success, nack and requeue on
// failure (as Dapr does).
func (b *Binding) handle(ctx context.Context, d amqp.Delivery, handler bindings.EventHandler) {
	_, err := handler(ctx, &bindings.Event{Data: d.Body, Metadata: headers(d.Headers)})
	var settleErr error
	if err == nil {
		settleErr = d.Ack(false)
	} else {
		b.log.Debug("the app did not take a message; requeueing it", "error", err)
		settleErr = d.Nack(false, true)
	}
	if settleErr != nil {
		// The channel is gone: the broker redelivers the message.
		b.log.Warn("could not settle message", "error", settleErr)
	}
}

// headers turns the string headers into event metadata, query-escaped as
// Dapr does so that every key and value can travel as an HTTP header.
func headers(h amqp.Table) map[string]string {
	md := make(map[string]string, len(h))
	for k, v := range h {
		if s, ok := v.(string); ok {
			md[url.QueryEscape(k)] = url.QueryEscape(s)
		}
	}
	return md
}
