// Package pubsubtest is the conformance suite every pub/sub broker passes
// against its real server.
package pubsubtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// Config describes the broker under test.
type Config struct {
	// New returns a fresh, un-initialised broker.
	New func() pubsub.Broker
	// Metadata initialises it; ConsumerID-like keys are set by the suite.
	Metadata pubsub.Metadata
	// Ordered: the broker delivers the messages of one partition key
	// (metadata partitionKey; or of one topic, for brokers without keys)
	// to one subscriber in publish order, one handler call at a time.
	Ordered bool
	// Durable: messages published while no subscriber runs are delivered
	// when one (same consumer group) subscribes later, and a restarted
	// process receives what it had not acknowledged.
	Durable bool
	// ConsumerGroups: instances made by New share one backend and the
	// consumerID metadata names a consumer group — different groups each
	// get every message, instances of one group share the work. The
	// work-sharing check needs one instance to hold fewer than
	// sharedWorkMessages (200) unacknowledged messages at a time.
	ConsumerGroups bool
	// RedeliveryTimeout bounds the wait for a message to come back after a
	// handler error or cancellation (brokers' redelivery delays vary).
	// Zero means 15s. Tests return as soon as the message arrives.
	RedeliveryTimeout time.Duration
	// Restart, if set, disrupts the broker connection so the suite can
	// check recovery.
	Restart func(t *testing.T)
	// NoContentType is set for brokers whose messages cannot carry a
	// content type (MQTT 3.1.1 has no headers); deliveries then arrive
	// without one and the suite does not compare it.
	NoContentType bool
}

const (
	// opTimeout bounds one broker call so a hung backend fails the test.
	opTimeout = 15 * time.Second
	// deliveryTimeout bounds the wait for messages that should arrive
	// promptly; generous for the race detector on small machines.
	deliveryTimeout = 15 * time.Second
	// quietPeriod is how long the suite watches for messages that must not
	// arrive.
	quietPeriod = 500 * time.Millisecond
)

// harness is one run of the suite.
type harness struct {
	cfg      Config
	broker   *instance // the main broker, group "<run>-main"
	features []pubsub.Feature
	run      string // random, unique per run
	seq      atomic.Int64
}

// newInbox collects deliveries, checking content types unless the broker
// cannot carry them.
func (h *harness) newInbox() *inbox {
	in := newInbox()
	in.noContentType = h.cfg.NoContentType
	return in
}

// Run runs the whole suite.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("pubsubtest: Config.New is nil")
	}
	if cfg.RedeliveryTimeout <= 0 {
		cfg.RedeliveryTimeout = 15 * time.Second
	}
	h := &harness{cfg: cfg, run: randomID(t)}
	h.broker = h.open(t, h.group("main"))
	h.features = h.broker.Features()
	t.Logf("broker features: %v, run id %s", h.features, h.run)

	t.Run("Features", h.testFeatures)
	// The subtests use their own topics and groups, so they run in
	// parallel: most of their time is spent waiting for deliveries.
	t.Run("Delivery", func(t *testing.T) {
		for _, c := range []struct {
			name string
			fn   func(*testing.T)
		}{
			{"PublishSubscribe", h.testPublishSubscribe},
			{"TopicsDoNotMix", h.testTopicsDoNotMix},
			{"RedeliveryOnError", h.testRedelivery},
			{"CancelStops", h.testCancelStops},
			{"Durable", h.testDurable},
			{"ConsumerGroups", h.testConsumerGroups},
			{"Ordering", h.testOrdering},
			{"BulkPublish", h.testBulkPublish},
			{"MessageTTL", h.testMessageTTL},
			{"ConcurrentPublish", h.testConcurrentPublish},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				c.fn(t)
			})
		}
	})
	t.Run("Restart", h.testRestart)
	t.Run("Close", h.testClose)
}

func (h *harness) has(f pubsub.Feature) bool { return pubsub.HasFeature(h.features, f) }

func (h *harness) testFeatures(t *testing.T) {
	known := map[pubsub.Feature]bool{
		pubsub.FeatureMessageTTL: true, pubsub.FeatureSubscribeWildcards: true, pubsub.FeatureBulkPublish: true,
	}
	seen := map[pubsub.Feature]bool{}
	for _, f := range h.features {
		if seen[f] {
			t.Errorf("Features() = %v: %s listed twice", h.features, f)
		}
		seen[f] = true
		if !known[f] {
			t.Errorf("Features() = %v: unknown feature %q", h.features, f)
		}
	}
	_, bulk := h.broker.Broker.(pubsub.BulkPublisher)
	if h.has(pubsub.FeatureBulkPublish) && !bulk {
		t.Errorf("Features() lists %s but the broker does not implement pubsub.BulkPublisher", pubsub.FeatureBulkPublish)
	}
}

// randomID returns 8 random hex characters.
func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random run id: %v", err)
	}
	return hex.EncodeToString(b)
}

// topic returns a topic name unique to this run and call.
func (h *harness) topic(name string) string {
	return fmt.Sprintf("pubsubtest-%s-%s-%d", h.run, name, h.seq.Add(1))
}

// group returns a consumer group name unique to this run and call.
func (h *harness) group(name string) string {
	return fmt.Sprintf("pubsubtest-%s-%s-%d", h.run, name, h.seq.Add(1))
}

// instance is an initialised broker that is closed at most once.
type instance struct {
	pubsub.Broker
	once     sync.Once
	closeErr error
}

// close closes the broker, failing the test if Close hangs.
func (in *instance) close(t *testing.T) error {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.once.Do(func() { in.closeErr = in.Broker.Close() })
	}()
	select {
	case <-done:
		return in.closeErr
	case <-time.After(opTimeout):
		t.Fatalf("Close() did not return within %s", opTimeout)
		return nil
	}
}

// open initialises a new broker instance in consumer group consumerID and
// closes it when the test ends.
func (h *harness) open(t *testing.T, consumerID string) *instance {
	t.Helper()
	md := pubsub.Metadata{Name: h.cfg.Metadata.Name, Properties: maps.Clone(h.cfg.Metadata.Properties)}
	if md.Properties == nil {
		md.Properties = map[string]string{}
	}
	md.Properties[pubsub.MetaConsumerID] = consumerID
	if md.Name == "" {
		md.Name = "pubsubtest"
	}
	b := h.cfg.New()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := b.Init(ctx, md); err != nil {
		t.Fatalf("Init(%q, consumerID=%s): %v", md.Name, consumerID, err)
	}
	in := &instance{Broker: b}
	t.Cleanup(func() {
		if err := in.close(t); err != nil {
			t.Errorf("Close(): %v", err)
		}
	})
	return in
}

// subscribe starts a subscription that lasts until the returned cancel is
// called or the test ends.
func subscribe(t *testing.T, b pubsub.Broker, topic string, handler pubsub.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic}, handler); err != nil {
		cancel()
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return cancel
}

// publish publishes one message and fails the test on error.
func publish(t *testing.T, b pubsub.Broker, req *pubsub.PublishRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := b.Publish(ctx, req); err != nil {
		t.Fatalf("Publish(%q, %q): %v", req.Topic, req.Data, err)
	}
}

// publishAll publishes the messages in order.
func publishAll(t *testing.T, b pubsub.Broker, msgs []*pubsub.PublishRequest) {
	t.Helper()
	for _, m := range msgs {
		publish(t, b, m)
	}
}

// sleepCtx waits d or until the test ends.
func sleepCtx(t *testing.T, d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.Context().Done():
	}
}
