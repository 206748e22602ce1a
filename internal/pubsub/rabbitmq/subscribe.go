package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/sleep"
)

// subscription consumes one queue on its own channel.
type subscription struct {
	b       *Broker
	topic   string
	queue   string
	md      map[string]string // subscription metadata
	handler pubsub.Handler
}

// Subscribe declares the topic's exchange and the consumer group's queue,
// binds them and starts consuming. Subscription metadata: queueName,
// routingKey (comma-separated binding keys), maxPriority, queueType
// (classic|quorum), singleActiveConsumer, maxLen, maxLenBytes.
func (b *Broker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	if req.Topic == "" {
		return errors.New("rabbitmq: subscribe: topic is required")
	}
	queue, ok := prop(req.Metadata, "queueName")
	if !ok {
		if b.cfg.consumerID == "" {
			return errors.New("rabbitmq: subscribe: consumerID is required when the subscription has no queueName")
		}
		queue = b.cfg.consumerID + "-" + req.Topic
	}
	s := &subscription{b: b, topic: req.Topic, queue: queue, md: req.Metadata, handler: handler}

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel) // Close stops every subscription
	ch, deliveries, err := s.setup()
	if err != nil {
		stop()
		cancel()
		return err
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer stop()
		defer cancel()
		s.run(ctx, ch, deliveries)
	}()
	return nil
}

// run consumes until ctx ends, re-establishing the consumer whenever the
// channel or connection drops.
func (s *subscription) run(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	for {
		s.consume(ctx, ch, deliveries)
		if ctx.Err() != nil {
			return
		}
		s.b.log.Warn("consumer stopped; re-subscribing", "topic", s.topic, "queue", s.queue, "wait", s.b.cfg.reconnectWait)
		for {
			if !sleep.For(ctx, s.b.cfg.reconnectWait) {
				return
			}
			var err error
			if ch, deliveries, err = s.setup(); err == nil {
				s.b.log.Info("re-subscribed", "topic", s.topic, "queue", s.queue)
				break
			}
			s.b.log.Warn("re-subscribe failed", "topic", s.topic, "queue", s.queue, "error", err)
		}
	}
}

// consume hands deliveries to the handler until ctx ends or the channel
// closes, then waits for the messages in flight and closes the channel,
// which makes the broker requeue whatever was left unacknowledged.
func (s *subscription) consume(ctx context.Context, ch *amqp.Channel, deliveries <-chan amqp.Delivery) {
	var inflight sync.WaitGroup
	defer func() {
		inflight.Wait()
		ch.Close()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-deliveries:
			// select picks at random when both are ready: never start a
			// handler once the subscription is stopping.
			if !ok || ctx.Err() != nil {
				return
			}
			if s.b.cfg.single {
				s.handle(ctx, d)
				continue
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				s.handle(ctx, d)
			}()
		}
	}
}

// handle delivers one message and settles it: ack on success; on failure
// nack, requeued only with requeueInFailure (otherwise dropped, or
// dead-lettered with enableDeadLetter), as Dapr does. A message whose
// handler was cancelled by the subscription stopping is left unsettled so
// the broker redelivers it.
func (s *subscription) handle(ctx context.Context, d amqp.Delivery) {
	msg := &pubsub.Message{Topic: s.topic, Data: d.Body, ContentType: d.ContentType, Metadata: s.metadata(d)}
	err := s.handler(ctx, msg)
	if s.b.cfg.autoAck {
		return
	}
	var settleErr error
	switch {
	case err == nil:
		settleErr = d.Ack(false)
	case ctx.Err() != nil:
		return
	default:
		s.b.log.Warn("handler failed", "topic", s.topic, "queue", s.queue, "requeue", s.b.cfg.requeueInFailure, "error", err)
		settleErr = d.Nack(false, s.b.cfg.requeueInFailure)
	}
	if settleErr != nil {
		// The channel is gone; the broker redelivers the message.
		s.b.log.Warn("could not settle message", "topic", s.topic, "queue", s.queue, "error", settleErr)
	}
}

// metadata carries the AMQP properties and headers when
// publishMessagePropertiesToMetadata is on.
func (s *subscription) metadata(d amqp.Delivery) map[string]string {
	if !s.b.cfg.propsToMetadata {
		return nil
	}
	md := map[string]string{}
	for k, v := range map[string]string{"messageid": d.MessageId, "correlationid": d.CorrelationId, "type": d.Type, "contenttype": d.ContentType} {
		if v != "" {
			md[k] = v
		}
	}
	for k, v := range d.Headers {
		switch v := v.(type) {
		case nil:
		case string:
			md[k] = v
		case []byte:
			md[k] = string(v)
		default:
			md[k] = fmt.Sprint(v)
		}
	}
	return md
}

// setup opens a channel, declares the exchange, the queue (and its dead
// letter exchange and queue) and the bindings, and starts the consumer.
func (s *subscription) setup() (*amqp.Channel, <-chan amqp.Delivery, error) {
	conn, err := s.b.connection()
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("rabbitmq: open channel: %w", err)
	}
	deliveries, err := s.declareAndConsume(ch)
	if err != nil {
		ch.Close()
		return nil, nil, fmt.Errorf("rabbitmq: subscribe to %q (queue %q): %w", s.topic, s.queue, err)
	}
	return ch, deliveries, nil
}

func (s *subscription) declareAndConsume(ch *amqp.Channel) (<-chan amqp.Delivery, error) {
	cfg := s.b.cfg
	if err := s.b.declareExchange(ch, s.topic); err != nil {
		return nil, err
	}
	args, err := s.queueArgs()
	if err != nil {
		return nil, err
	}
	if cfg.enableDeadLetter {
		dlx, err := s.declareDeadLetter(ch)
		if err != nil {
			return nil, err
		}
		args["x-dead-letter-exchange"] = dlx
	}
	if _, err := ch.QueueDeclare(s.queue, cfg.durable, cfg.deleteWhenUnused, false, false, args); err != nil {
		return nil, fmt.Errorf("declare queue: %w", err)
	}
	if cfg.prefetchCount > 0 {
		if err := ch.Qos(cfg.prefetchCount, 0, false); err != nil {
			return nil, fmt.Errorf("set prefetch count: %w", err)
		}
	}
	keys, _ := prop(s.md, "routingKey")
	for _, key := range strings.Split(keys, ",") {
		if err := ch.QueueBind(s.queue, strings.TrimSpace(key), s.topic, false, nil); err != nil {
			return nil, fmt.Errorf("bind queue with routing key %q: %w", key, err)
		}
	}
	deliveries, err := ch.Consume(s.queue, "", cfg.autoAck, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return deliveries, nil
}

// declareDeadLetter declares Dapr's dead letter exchange "dlx-<queue>" and
// queue "dlq-<queue>" (always durable, lazy) and returns the exchange name.
func (s *subscription) declareDeadLetter(ch *amqp.Channel) (string, error) {
	dlx, dlq := "dlx-"+s.queue, "dlq-"+s.queue
	if err := ch.ExchangeDeclare(dlx, "fanout", true, s.b.cfg.deleteWhenUnused, false, false, nil); err != nil {
		return "", fmt.Errorf("declare dead letter exchange: %w", err)
	}
	args := s.b.lengthArgs()
	args["x-queue-mode"] = "lazy"
	if _, err := ch.QueueDeclare(dlq, true, s.b.cfg.deleteWhenUnused, false, false, args); err != nil {
		return "", fmt.Errorf("declare dead letter queue: %w", err)
	}
	if err := ch.QueueBind(dlq, "", dlx, false, nil); err != nil {
		return "", fmt.Errorf("bind dead letter queue: %w", err)
	}
	return dlx, nil
}

// lengthArgs are the component-wide queue length limits.
func (b *Broker) lengthArgs() amqp.Table {
	args := amqp.Table{}
	if b.cfg.maxLen > 0 {
		args[amqp.QueueMaxLenArg] = b.cfg.maxLen
	}
	if b.cfg.maxLenBytes > 0 {
		args[amqp.QueueMaxLenBytesArg] = b.cfg.maxLenBytes
	}
	return args
}

// queueArgs adds the subscription's queue options to the component's.
func (s *subscription) queueArgs() (amqp.Table, error) {
	args := s.b.lengthArgs()
	args[amqp.QueueTypeArg] = amqp.QueueTypeClassic
	if v, ok := prop(s.md, "queueType"); ok {
		if v != amqp.QueueTypeClassic && v != amqp.QueueTypeQuorum {
			return nil, fmt.Errorf("invalid queueType %q (use classic or quorum)", v)
		}
		args[amqp.QueueTypeArg] = v
	}
	if v, ok := prop(s.md, "singleActiveConsumer"); ok {
		if on, _ := strconv.ParseBool(v); on {
			args[amqp.SingleActiveConsumerArg] = true
		}
	}
	for _, o := range []struct{ key, arg string }{
		{"maxLen", amqp.QueueMaxLenArg},
		{"maxLenBytes", amqp.QueueMaxLenBytesArg},
		{"maxPriority", "x-max-priority"},
	} {
		v, ok := prop(s.md, o.key)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return nil, fmt.Errorf("invalid %s %q: %w", o.key, v, err)
		}
		if o.key == "maxPriority" {
			args[o.arg] = uint8(min(n, 255))
		} else {
			args[o.arg] = int64(n)
		}
	}
	return args, nil
}
