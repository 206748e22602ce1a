package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/testutil"
)

const mqttAddr = "127.0.0.1:1883"

// sessions remembers the client ids a test used, so their persistent
// sessions (kept by Mosquitto forever by default) are removed afterwards.
type sessions struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *sessions) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	s.ids[id] = true
}

// cleanup connects once per client id with a clean session, which makes
// the broker discard the stored one.
func (s *sessions) cleanup(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.ids {
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID(id).SetCleanSession(true))
		tok := c.Connect()
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Errorf("removing MQTT session %s: %v", id, tok.Error())
			continue
		}
		c.Disconnect(100)
	}
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

// open initialises a broker as client id (url defaults to the server) and
// removes its session when the test ends.
func open(t *testing.T, id string, props map[string]string) *Broker {
	t.Helper()
	if props["url"] == "" {
		props["url"] = "tcp://" + mqttAddr
	}
	props[pubsub.MetaConsumerID] = id
	s := &sessions{}
	s.add(id)
	t.Cleanup(func() { s.cleanup(t) })
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
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) handle(_ context.Context, m *pubsub.Message) error {
	c.mu.Lock()
	c.msgs = append(c.msgs, pubsub.Message{Topic: m.Topic, Data: append([]byte(nil), m.Data...), ContentType: m.ContentType, Metadata: m.Metadata})
	c.mu.Unlock()
	c.ch <- struct{}{}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// has reports whether a message with payload data arrived.
func (c *collector) has(data string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if string(m.Data) == data {
			return true
		}
	}
	return false
}

// wait blocks until n messages arrived in total.
func (c *collector) wait(t *testing.T, n int) []pubsub.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for c.count() < n {
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("received %d messages, want %d", c.count(), n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]pubsub.Message(nil), c.msgs...)
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

func publish(t *testing.T, b *Broker, topic string, data []byte, md map[string]string) {
	t.Helper()
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: data, Metadata: md}); err != nil {
		t.Fatalf("Publish(%s): %v", topic, err)
	}
}

func requireMosquitto(t *testing.T) {
	t.Helper()
	testutil.RequireService(t, "an MQTT broker (Mosquitto)", mqttAddr)
}
