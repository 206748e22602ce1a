package mqtt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/pubsub"
	pubsubmqtt "github.com/outrigger/outrigger/internal/pubsub/mqtt"
)

// Read connects as "<consumerID>-consumer", subscribes to the topic (MQTT
// wildcards allowed) and delivers messages until ctx ends or the binding
// closes; then it disconnects. It may be called again once an earlier
// ctx ended. Each event carries the message's topic as `topic` metadata.
func (b *Binding) Read(ctx context.Context, handler bindings.EventHandler) error {
	done, err := b.claimReader(ctx)
	if err != nil {
		return err
	}
	readCtx, cancel := context.WithCancel(ctx)
	consumer, err := b.subscribe(readCtx, handler)
	if err != nil {
		cancel()
		close(done)
		b.wg.Done()
		return err
	}
	go func() {
		defer b.wg.Done()
		defer close(done)
		defer cancel()
		select {
		case <-readCtx.Done():
		case <-b.closeCh:
		}
		// Close waits for running handlers; the session keeps the
		// subscription and whatever was left unacknowledged.
		if err := consumer.Close(); err != nil {
			b.log.Warn("disconnecting the consumer failed", "error", err)
		}
	}()
	return nil
}

// subscribe connects the consumer and subscribes it until ctx ends.
func (b *Binding) subscribe(ctx context.Context, handler bindings.EventHandler) (*pubsubmqtt.Broker, error) {
	consumer := pubsubmqtt.New()
	if err := consumer.Init(ctx, pubsub.Metadata{Properties: b.cfg.clientProps(consumerSuffix)}); err != nil {
		return nil, fmt.Errorf("mqtt binding: consumer: %w", err)
	}
	if err := consumer.Subscribe(ctx, pubsub.SubscribeRequest{Topic: b.cfg.topic}, b.deliver(handler)); err != nil {
		consumer.Close()
		return nil, fmt.Errorf("mqtt binding: %w", err)
	}
	return consumer, nil
}

// claimReader makes the caller the binding's one reader, once an earlier
// reader has disconnected (a second client with the same id would make the
// broker drop the first). It returns the channel to close when the new
// reader is done, with b.wg counting it.
func (b *Binding) claimReader(ctx context.Context) (chan struct{}, error) {
	t := time.NewTimer(handoverWait)
	defer t.Stop()
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, errClosed
		}
		prev := b.reading
		if prev == nil || isDone(prev) {
			done := make(chan struct{})
			b.reading = done
			b.wg.Add(1)
			b.mu.Unlock()
			return done, nil
		}
		b.mu.Unlock()
		select {
		case <-prev:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, errors.New("mqtt binding: the subscription is already active")
		}
	}
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// deliver adapts the handler. A failed event is retried backOffMaxRetries
// times, retryWait apart; after that it stays unacknowledged and the
// consumer offers it again later, so it is never dropped (Dapr leaves it
// unacknowledged until the next connection).
func (b *Binding) deliver(handler bindings.EventHandler) pubsub.Handler {
	return func(ctx context.Context, msg *pubsub.Message) error {
		ev := &bindings.Event{Data: msg.Data, Metadata: map[string]string{"topic": msg.Topic}}
		for retries := 0; ; retries++ {
			_, err := handler(ctx, ev)
			if err == nil {
				return nil
			}
			if b.cfg.maxRetries >= 0 && retries >= b.cfg.maxRetries {
				return err
			}
			b.log.Debug("the app did not take an event; retrying", "topic", msg.Topic, "in", b.retryWait, "error", err)
			t := time.NewTimer(b.retryWait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return err
			}
		}
	}
}
