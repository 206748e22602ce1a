// Package rabbitmq is the bindings.rabbitmq binding. Output `create`
// sends the data to the queue queueName through the default exchange;
// input consumes that queue, acknowledging a message once the app took
// it and requeueing it when the app failed. Connections are shared code
// with pubsub.rabbitmq (internal/amqpconn) and redialled when they drop.
//
// An exclusive queue belongs to the connection that declared it. As the
// input and the output of one component are separate instances here, the
// output then does not declare the queue: the input owns it.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/amqpconn"
	"github.com/outrigger/outrigger/internal/bindings"
)

func init() {
	bindings.Outputs.Register("bindings.rabbitmq", func() bindings.Output { return New() })
	bindings.Inputs.Register("bindings.rabbitmq", func() bindings.Input { return New() })
}

// publishAttempts: a publish on a connection that just dropped is tried
// once more on a fresh one.
const publishAttempts = 2

var errClosed = errors.New("rabbitmq binding: binding is closed")

// Binding is the RabbitMQ input and output binding.
type Binding struct {
	cfg  config
	log  *slog.Logger
	conn *amqpconn.Conn

	mu      sync.Mutex
	pubConn *amqp.Connection // the connection pubCh belongs to
	pubCh   *amqp.Channel
	closed  bool

	// ctx is cancelled by Close and stops every Read; wg waits for them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an uninitialised binding.
func New() *Binding {
	ctx, cancel := context.WithCancel(context.Background())
	return &Binding{log: slog.Default().With("component", "bindings.rabbitmq"), ctx: ctx, cancel: cancel}
}

// Init parses the metadata, connects and declares the queue, so that a
// bad address or a queue declared elsewhere with other settings fails
// here.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("rabbitmq binding: %w", err)
	}
	b.cfg = cfg
	b.log = b.log.With("name", md.Name, "queue", cfg.queue)
	b.conn = amqpconn.New(cfg.conn, b.log)
	if _, err := b.publishChannel(); err != nil {
		return err
	}
	return nil
}

// Operations lists the supported operations.
func (b *Binding) Operations() []string { return []string{bindings.OpCreate} }

// Invoke sends the data to the queue and returns once the broker has
// confirmed it. Request metadata: ttlInSeconds, priority, contentType;
// every key also travels as a message header.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation != bindings.OpCreate {
		return nil, fmt.Errorf("rabbitmq binding: invalid operation type: %s", req.Operation)
	}
	msg, err := b.publishing(req)
	if err != nil {
		return nil, fmt.Errorf("rabbitmq binding: %w", err)
	}
	for attempt := 1; ; attempt++ {
		ch, err := b.publishChannel()
		if err != nil {
			return nil, err
		}
		if err = b.publishOnce(ctx, ch, msg); err == nil {
			return nil, nil
		}
		b.dropPublishChannel(ch)
		if attempt == publishAttempts || ctx.Err() != nil {
			return nil, fmt.Errorf("rabbitmq binding: publish to queue %q: %w", b.cfg.queue, err)
		}
	}
}

// publishOnce sends msg and waits for the broker to confirm it: without
// confirms, a message written just as the connection drops is lost
// silently. A confirmation lost with the connection counts as a failure
// (the retry may then duplicate the message: at-least-once).
func (b *Binding) publishOnce(ctx context.Context, ch *amqp.Channel, msg amqp.Publishing) error {
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", b.cfg.queue, false, false, msg)
	if err != nil {
		return err
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		return err
	}
	if !acked {
		return errors.New("the broker did not confirm the message")
	}
	return nil
}

// publishing builds the message: persistent, with the request metadata
// as headers.
func (b *Binding) publishing(req *bindings.InvokeRequest) (amqp.Publishing, error) {
	p := amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		ContentType:  b.cfg.contentType,
		Body:         req.Data,
		Headers:      make(amqp.Table, len(req.Metadata)),
	}
	for k, v := range req.Metadata {
		p.Headers[k] = v
	}
	if v := req.Metadata["contentType"]; v != "" {
		p.ContentType = v
	}
	if v := req.Metadata["ttlInSeconds"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, fmt.Errorf("invalid ttlInSeconds %q: want a non-negative integer", v)
		}
		p.Expiration = strconv.FormatInt(n*1000, 10) // milliseconds
	}
	if v := req.Metadata["priority"]; v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return p, fmt.Errorf("invalid priority %q: want an integer from 0 to 255", v)
		}
		p.Priority = uint8(n)
	}
	return p, nil
}

// publishChannel returns the publishing channel, opening it (and the
// connection) when needed, with the queue declared on it.
func (b *Binding) publishChannel() (*amqp.Channel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	conn, err := b.conn.Get()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq binding: %w", err)
	}
	if b.pubCh != nil && !b.pubCh.IsClosed() && b.pubConn == conn {
		return b.pubCh, nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq binding: open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, fmt.Errorf("rabbitmq binding: enable publisher confirms: %w", err)
	}
	if !b.cfg.exclusive {
		if err := b.declareQueue(ch); err != nil {
			ch.Close()
			return nil, err
		}
	}
	b.pubConn, b.pubCh = conn, ch
	return ch, nil
}

// dropPublishChannel discards ch after a failure.
func (b *Binding) dropPublishChannel(ch *amqp.Channel) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pubCh == ch {
		b.pubCh = nil
		ch.Close()
	}
}

// declareQueue declares queueName with the component's settings.
func (b *Binding) declareQueue(ch *amqp.Channel) error {
	// Argument types as Dapr sends them (int32 and byte), so that a queue
	// declared by a Dapr sidecar is declared again without a conflict.
	args := amqp.Table{}
	if b.cfg.ttl > 0 {
		args[amqp.QueueMessageTTLArg] = int(b.cfg.ttl.Milliseconds())
	}
	if b.cfg.maxPriority != nil {
		args["x-max-priority"] = *b.cfg.maxPriority
	}
	c := b.cfg
	if _, err := ch.QueueDeclare(c.queue, c.durable, c.deleteWhenUnused, c.exclusive, false, args); err != nil {
		return fmt.Errorf("rabbitmq binding: declare queue %q: %w", c.queue, err)
	}
	return nil
}

// Close stops reading (a message being handled finishes first) and
// closes the connection.
func (b *Binding) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	if b.conn == nil {
		return nil
	}
	return b.conn.Close()
}
