// Package rabbitmq is the pubsub.rabbitmq broker: one exchange per topic
// (fanout by default) and one queue per consumer group and topic, named
// "<consumerID>-<topic>" as Dapr names it, so Dapr and Outrigger sidecars
// share queues. Connections are re-established automatically.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/amqpconn"
	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	pubsub.Registry.Register("pubsub.rabbitmq", func() pubsub.Broker { return New() })
}

var errClosed = errors.New("rabbitmq: broker is closed")

// Broker is the RabbitMQ pub/sub. It keeps one connection, shared by a
// publishing channel and one channel per subscription, and redials it when
// it drops.
type Broker struct {
	cfg config
	log *slog.Logger

	conn *amqpconn.Conn // redials when the connection dropped

	mu        sync.Mutex
	pubConn   *amqp.Connection // the connection pubCh belongs to
	pubCh     *amqp.Channel
	exchanges map[string]bool // declared through pubCh
	closed    bool

	// ctx is cancelled by Close and stops every subscription; wg waits for
	// their goroutines.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an un-initialised broker.
func New() *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{log: slog.Default().With("component", "pubsub.rabbitmq"), ctx: ctx, cancel: cancel}
}

// Init parses the metadata and opens the connection.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("rabbitmq: %w", err)
	}
	b.cfg = cfg
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	b.conn = amqpconn.New(cfg.settings(), b.log)
	if _, err := b.connection(); err != nil {
		return err
	}
	return nil
}

// Features reports MESSAGE_TTL: ttlInSeconds becomes the AMQP expiration.
func (b *Broker) Features() []pubsub.Feature {
	return []pubsub.Feature{pubsub.FeatureMessageTTL}
}

// Close stops the subscriptions (their in-flight messages finish first)
// and closes the connection.
func (b *Broker) Close() error {
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

// connection returns the live connection, dialling a new one when there is
// none or the last one dropped.
func (b *Broker) connection() (*amqp.Connection, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connectionLocked()
}

func (b *Broker) connectionLocked() (*amqp.Connection, error) {
	if b.closed {
		return nil, errClosed
	}
	conn, err := b.conn.Get()
	if err != nil {
		return nil, err
	}
	if conn != b.pubConn {
		// A new connection: the publishing channel died with the old one.
		b.pubConn, b.pubCh, b.exchanges = conn, nil, map[string]bool{}
	}
	return conn, nil
}

// declareExchange declares the topic's exchange with the component's
// durability settings.
func (b *Broker) declareExchange(ch *amqp.Channel, name string) error {
	if err := ch.ExchangeDeclare(name, b.cfg.exchangeKind, b.cfg.durable, b.cfg.deleteWhenUnused, false, false, nil); err != nil {
		return fmt.Errorf("rabbitmq: declare exchange %q: %w", name, err)
	}
	return nil
}
