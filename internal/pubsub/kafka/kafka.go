// Package kafka is the pubsub.kafka broker on franz-go. A subscription is
// one member of the component's consumer group; each partition is handled
// in order by its own goroutine, and offsets are committed only after the
// handler succeeded, so delivery is at-least-once and ordered per
// partition (per partitionKey).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/outrigger/outrigger/internal/pubsub"
)

func init() {
	pubsub.Registry.Register("pubsub.kafka", func() pubsub.Broker { return New() })
}

var errClosed = errors.New("kafka: broker is closed")

// Broker is the Kafka pub/sub: one producer client shared by all
// publishes, and one consumer client per subscription.
type Broker struct {
	cfg      config
	log      *slog.Logger
	producer *kgo.Client

	mu     sync.Mutex
	closed bool

	// ctx is cancelled by Close and stops every subscription; wg waits for
	// them.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an un-initialised broker.
func New() *Broker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{log: slog.Default().With("component", "pubsub.kafka"), ctx: ctx, cancel: cancel}
}

// Init parses the metadata, creates the producer and checks that a broker
// answers.
func (b *Broker) Init(ctx context.Context, md pubsub.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	b.cfg = cfg
	if md.Name != "" {
		b.log = b.log.With("name", md.Name)
	}
	opts := append(b.commonOpts(),
		kgo.RecordPartitioner(newPartitioner()),
		kgo.RequiredAcks(cfg.acks),
		kgo.ProducerBatchCompression(cfg.compression),
	)
	if cfg.acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite()) // idempotence needs acks=all
	}
	if cfg.maxMsgBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(cfg.maxMsgBytes))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: create producer: %w", err)
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: no broker of %v answers: %w", cfg.brokers, err)
	}
	b.producer = cl
	return nil
}

// commonOpts are the connection options of every client.
func (b *Broker) commonOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(b.cfg.brokers...),
		kgo.ClientID(b.cfg.clientID),
		// Topics are created on first use where the cluster allows it, as
		// Dapr's client does.
		kgo.AllowAutoTopicCreation(),
		kgo.WithLogger(slogAdapter{b.log}),
	}
	if b.cfg.sasl != nil {
		opts = append(opts, kgo.SASL(b.cfg.sasl))
	}
	if b.cfg.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(b.cfg.tls))
	}
	return opts
}

// Features reports BULK_PUBSUB.
func (b *Broker) Features() []pubsub.Feature {
	return []pubsub.Feature{pubsub.FeatureBulkPublish}
}

// Close stops every subscription (committing what was handled) and
// flushes and closes the producer.
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
	if b.producer != nil {
		b.producer.Close()
	}
	return nil
}

// isClosed reports whether Close was called.
func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// slogAdapter routes franz-go's log lines (warnings and errors only) to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (a slogAdapter) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	switch level {
	case kgo.LogLevelError:
		a.l.Error(msg, keyvals...)
	case kgo.LogLevelWarn:
		a.l.Warn(msg, keyvals...)
	}
}
