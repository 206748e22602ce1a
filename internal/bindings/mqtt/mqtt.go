// Package mqtt is the bindings.mqtt3 binding (alias bindings.mqtt): MQTT
// 3.1.1 with QoS 1. The connections are pubsub.mqtt3 brokers, so the
// binding shares their URL schemes, TLS, reconnection and
// acknowledge-after-handler delivery. As in Dapr, the output connects on
// first use as client "<consumerID>-producer", and the input connects in
// Read as "<consumerID>-consumer" and disconnects (without unsubscribing)
// when reading stops: with a persistent session (cleanSession false) the
// broker keeps what is published meanwhile.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/pubsub"
	pubsubmqtt "github.com/outrigger/outrigger/internal/pubsub/mqtt"
)

func init() {
	for _, name := range []string{"bindings.mqtt3", "bindings.mqtt"} {
		bindings.Outputs.Register(name, func() bindings.Output { return New() })
		bindings.Inputs.Register(name, func() bindings.Input { return New() })
	}
}

const (
	// retryWait spaces the backOffMaxRetries retries (Dapr's constant 5s).
	retryWait = 5 * time.Second
	// handoverWait bounds how long Read waits for the previous reader to
	// disconnect, so the broker does not see two clients with one id.
	handoverWait = 5 * time.Second
)

var errClosed = errors.New("mqtt binding: binding is closed")

// Binding is the MQTT input and output binding.
type Binding struct {
	cfg       config
	log       *slog.Logger
	retryWait time.Duration

	// prodMu guards producer and is held while it connects, which b.mu
	// is not, so a slow connect does not hold up Read or Close.
	prodMu   sync.Mutex
	producer *pubsubmqtt.Broker

	mu      sync.Mutex
	reading chan struct{} // closed when the current reader disconnected
	closed  bool
	closeCh chan struct{}
	wg      sync.WaitGroup // reader goroutines
}

// New returns an uninitialised binding.
func New() *Binding {
	return &Binding{
		log:       slog.Default().With("component", "bindings.mqtt3"),
		retryWait: retryWait,
		closeCh:   make(chan struct{}),
	}
}

// Init checks the metadata; connections are made on first use.
func (b *Binding) Init(_ context.Context, md bindings.Metadata) error {
	cfg, err := parseConfig(md.Properties)
	if err != nil {
		return fmt.Errorf("mqtt binding: %w", err)
	}
	b.cfg = cfg
	b.log = b.log.With("name", md.Name, "topic", cfg.topic)
	return nil
}

// Operations lists the supported operations.
func (b *Binding) Operations() []string { return []string{bindings.OpCreate} }

// Invoke publishes the data to the component's topic, or to the request's
// `topic` metadata; `retain` overrides the component's retain flag.
func (b *Binding) Invoke(ctx context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	if req.Operation != bindings.OpCreate {
		return nil, fmt.Errorf("mqtt binding: invalid operation type: %s", req.Operation)
	}
	producer, err := b.getProducer(ctx)
	if err != nil {
		return nil, err
	}
	topic := req.Metadata["topic"]
	if topic == "" {
		topic = b.cfg.topic
	}
	md := map[string]string{}
	if v, ok := req.Metadata["retain"]; ok && v != "" {
		md["retain"] = v
	}
	if err := producer.Publish(ctx, &pubsub.PublishRequest{Topic: topic, Data: req.Data, Metadata: md}); err != nil {
		return nil, fmt.Errorf("mqtt binding: %w", err)
	}
	return nil, nil
}

// getProducer returns the output connection, connecting on first use.
func (b *Binding) getProducer(ctx context.Context) (*pubsubmqtt.Broker, error) {
	b.prodMu.Lock()
	defer b.prodMu.Unlock()
	if b.isClosed() {
		return nil, errClosed
	}
	if b.producer != nil {
		return b.producer, nil
	}
	p := pubsubmqtt.New()
	if err := p.Init(ctx, pubsub.Metadata{Properties: b.cfg.clientProps(producerSuffix)}); err != nil {
		return nil, fmt.Errorf("mqtt binding: producer: %w", err)
	}
	b.producer = p
	return p, nil
}

// Close disconnects the output and stops reading (events being handled
// finish first).
func (b *Binding) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closeCh)
	b.mu.Unlock()
	b.wg.Wait()
	// A producer still connecting is stored before prodMu is released,
	// and none is made once closed is set.
	b.prodMu.Lock()
	producer := b.producer
	b.producer = nil
	b.prodMu.Unlock()
	if producer != nil {
		return producer.Close()
	}
	return nil
}

func (b *Binding) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
