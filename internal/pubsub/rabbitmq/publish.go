package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sleep"
)

// publishAttempts bounds how often Publish retries over a dropped
// connection before giving up.
const publishAttempts = 3

// Publish sends the message to the topic's exchange. Per-message metadata:
// routingKey, priority, ttlInSeconds, and the AMQP properties contentType,
// messageID, correlationID and type.
func (b *Broker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if req.Topic == "" {
		return errors.New("rabbitmq: publish: topic is required")
	}
	msg := b.publishing(req)
	routingKey, _ := prop(req.Metadata, "routingKey")
	var err error
	for attempt := 1; attempt <= publishAttempts; attempt++ {
		if attempt > 1 && !sleep.For(ctx, b.cfg.reconnectWait) {
			return fmt.Errorf("rabbitmq: publish to %q: %w (last error: %w)", req.Topic, ctx.Err(), err)
		}
		if err = b.publishOnce(ctx, req.Topic, routingKey, msg); err == nil {
			return nil
		}
		if errors.Is(err, errClosed) || ctx.Err() != nil || permanent(err) {
			return err
		}
		b.log.Warn("publish failed; retrying", "topic", req.Topic, "attempt", attempt, "error", err)
	}
	return err
}

// permanent reports server refusals that retrying does not fix: access
// refused, not found, or an exchange declared with other settings.
func permanent(err error) bool {
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) {
		return false
	}
	switch amqpErr.Code {
	case amqp.AccessRefused, amqp.NotFound, amqp.PreconditionFailed:
		return true
	}
	return false
}

// publishing builds the AMQP message from the request and its metadata.
func (b *Broker) publishing(req *pubsub.PublishRequest) amqp.Publishing {
	p := amqp.Publishing{ContentType: "text/plain", Body: req.Data, DeliveryMode: b.cfg.deliveryMode}
	if req.ContentType != "" {
		p.ContentType = req.ContentType
	}
	md := req.Metadata
	if v, ok := prop(md, "contentType"); ok {
		p.ContentType = v
	}
	p.MessageId, _ = prop(md, "messageID")
	p.CorrelationId, _ = prop(md, "correlationID")
	p.Type, _ = prop(md, "type")
	// Invalid TTL or priority values are ignored with a warning, as Dapr does.
	if v, ok := prop(md, pubsub.MetaTTLInSeconds); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			p.Expiration = strconv.FormatInt(n*1000, 10)
		} else {
			b.log.Warn("ignoring invalid ttlInSeconds", "topic", req.Topic, "value", v)
		}
	}
	if p.Expiration == "" && b.cfg.defaultTTL > 0 {
		p.Expiration = strconv.FormatInt(b.cfg.defaultTTL.Milliseconds(), 10)
	}
	if v, ok := prop(md, "priority"); ok {
		if n, err := strconv.ParseUint(v, 10, 8); err == nil {
			p.Priority = uint8(n)
		} else {
			b.log.Warn("ignoring invalid priority", "topic", req.Topic, "value", v)
		}
	}
	return p
}

func (b *Broker) publishOnce(ctx context.Context, topic, routingKey string, msg amqp.Publishing) error {
	ch, err := b.publishChannel(topic)
	if err != nil {
		return err
	}
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, topic, routingKey, false, false, msg)
	if err != nil {
		b.dropPublishChannel(ch)
		return fmt.Errorf("rabbitmq: publish to %q: %w", topic, err)
	}
	if confirm == nil { // publisher confirms are off
		return nil
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("rabbitmq: publish to %q: waiting for confirmation: %w", topic, err)
	}
	if !acked {
		b.dropPublishChannel(ch)
		return fmt.Errorf("rabbitmq: publish to %q: the broker did not confirm the message", topic)
	}
	return nil
}

// publishChannel returns the shared publishing channel, opening it (and
// the connection) when needed, with the topic's exchange declared.
func (b *Broker) publishChannel(topic string) (*amqp.Channel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	conn, err := b.connectionLocked()
	if err != nil {
		return nil, err
	}
	if b.pubCh == nil || b.pubCh.IsClosed() {
		ch, err := conn.Channel()
		if err != nil {
			return nil, fmt.Errorf("rabbitmq: open channel: %w", err)
		}
		if b.cfg.publisherConfirm {
			if err := ch.Confirm(false); err != nil {
				ch.Close()
				return nil, fmt.Errorf("rabbitmq: enable publisher confirms: %w", err)
			}
		}
		// A channel closes on any error, possibly because an exchange we
		// think exists was deleted: forget what was declared.
		b.pubCh, b.exchanges = ch, map[string]bool{}
	}
	if !b.exchanges[topic] {
		if err := b.declareExchange(b.pubCh, topic); err != nil {
			b.pubCh = nil
			return nil, err
		}
		b.exchanges[topic] = true
	}
	return b.pubCh, nil
}

// dropPublishChannel discards ch after a failure so the next publish opens
// a fresh one.
func (b *Broker) dropPublishChannel(ch *amqp.Channel) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pubCh == ch {
		b.pubCh = nil
		ch.Close()
	}
}
