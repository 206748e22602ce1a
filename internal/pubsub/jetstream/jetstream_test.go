package jetstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const natsAddr = "127.0.0.1:4222"

// TestConformance runs the shared suite through a proxy (so Restart can
// cut the connection). The operator's part of a JetStream deployment is
// played by provisioned: one stream per topic, and the consumer group
// (consumerID) as durableName and queueGroupName.
func TestConformance(t *testing.T) {
	testutil.RequireService(t, "NATS with JetStream", natsAddr)
	p := testutil.StartProxy(t, natsAddr)
	prov := &provisioner{js: admin(t)}
	t.Cleanup(func() { prov.cleanup(t) }) // after the suite closed its brokers
	pubsubtest.Run(t, pubsubtest.Config{
		New:            func() pubsub.Broker { return &provisioned{Broker: New(), prov: prov} },
		Metadata:       pubsub.Metadata{Properties: map[string]string{"natsURL": "nats://" + p.Addr()}},
		Ordered:        true, // concurrency=single (the default)
		Durable:        true,
		ConsumerGroups: true,
		Restart:        func(t *testing.T) { p.Sever() },
	})
}

// provisioned creates each topic's stream before using it, as an operator
// would, and maps the consumer group to durableName and queueGroupName.
type provisioned struct {
	*Broker
	prov *provisioner
}

func (p *provisioned) Init(ctx context.Context, md pubsub.Metadata) error {
	props := map[string]string{}
	for k, v := range md.Properties {
		props[k] = v
	}
	props["durableName"] = props[pubsub.MetaConsumerID]
	props["queueGroupName"] = props[pubsub.MetaConsumerID]
	return p.Broker.Init(ctx, pubsub.Metadata{Name: md.Name, Properties: props})
}

func (p *provisioned) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if err := p.prov.ensure(ctx, req.Topic); err != nil {
		return err
	}
	return p.Broker.Publish(ctx, req)
}

func (p *provisioned) BulkPublish(ctx context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	if err := p.prov.ensure(ctx, req.Topic); err != nil {
		return nil, err
	}
	return p.Broker.BulkPublish(ctx, req)
}

func (p *provisioned) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, h pubsub.Handler) error {
	if err := p.prov.ensure(ctx, req.Topic); err != nil {
		return err
	}
	return p.Broker.Subscribe(ctx, req, h)
}

// provisioner creates one stream per topic (named after it) and deletes
// them at the end.
type provisioner struct {
	js      jetstream.JetStream
	mu      sync.Mutex
	streams map[string]bool
}

func (p *provisioner) ensure(ctx context.Context, topic string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams[topic] {
		return nil
	}
	if _, err := p.js.CreateStream(ctx, jetstream.StreamConfig{Name: topic, Subjects: []string{topic}, Storage: jetstream.MemoryStorage}); err != nil {
		return err
	}
	if p.streams == nil {
		p.streams = map[string]bool{}
	}
	p.streams[topic] = true
	return nil
}

func (p *provisioner) cleanup(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name := range p.streams {
		if err := p.js.DeleteStream(context.Background(), name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	}
}

// admin connects directly to NATS for stream management.
func admin(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

// uniqueName returns prefix plus 8 random hex characters.
func uniqueName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// createStream creates a memory stream deleted when the test ends.
func createStream(t *testing.T, js jetstream.JetStream, name string, subjects ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
}

// open initialises a broker with props (natsURL defaults to the server).
func open(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	if props["natsURL"] == "" {
		props["natsURL"] = "nats://" + natsAddr
	}
	b := New()
	if err := b.Init(context.Background(), pubsub.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// collector gathers delivered messages.
type collector struct {
	mu   sync.Mutex
	msgs []pubsub.Message
	at   []time.Time
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) handle(_ context.Context, m *pubsub.Message) error {
	c.mu.Lock()
	c.msgs = append(c.msgs, pubsub.Message{Topic: m.Topic, Data: append([]byte(nil), m.Data...), ContentType: m.ContentType, Metadata: m.Metadata})
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	c.ch <- struct{}{}
	return nil
}

// wait blocks until n messages arrived in total.
func (c *collector) wait(t *testing.T, n int) []pubsub.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.msgs)
		c.mu.Unlock()
		if got >= n {
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([]pubsub.Message(nil), c.msgs...)
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("received %d messages, want %d", got, n)
		}
	}
}

func subscribe(t *testing.T, b *Broker, topic string, h pubsub.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic}, h); err != nil {
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	return cancel
}

func publish(t *testing.T, b *Broker, topic, data, contentType string) {
	t.Helper()
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: []byte(data), ContentType: contentType}); err != nil {
		t.Fatalf("Publish(%s): %v", topic, err)
	}
}
