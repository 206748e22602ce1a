package outbox

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	psmemory "github.com/outrigger/outrigger/internal/pubsub/memory"
	"github.com/outrigger/outrigger/internal/state"
	stmemory "github.com/outrigger/outrigger/internal/state/memory"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	testApp   = "myapp"
	testTopic = "orders"
)

// recorder wraps a broker: it records every publish that reached the
// broker, and hook (if set) runs first and may fail or block the publish.
type recorder struct {
	pubsub.Broker
	hook func(ctx context.Context, req *pubsub.PublishRequest) error

	mu        sync.Mutex
	published []pubsub.PublishRequest
	delivered map[string]int // messages handed to subscribers, by topic
}

// Subscribe counts the deliveries to handler.
func (r *recorder) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, handler pubsub.Handler) error {
	return r.Broker.Subscribe(ctx, req, func(ctx context.Context, msg *pubsub.Message) error {
		r.mu.Lock()
		if r.delivered == nil {
			r.delivered = map[string]int{}
		}
		r.delivered[req.Topic]++
		r.mu.Unlock()
		return handler(ctx, msg)
	})
}

func (r *recorder) deliveries(topic string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.delivered[topic]
}

func (r *recorder) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if r.hook != nil {
		if err := r.hook(ctx, req); err != nil {
			return err
		}
	}
	if err := r.Broker.Publish(ctx, req); err != nil {
		return err
	}
	r.mu.Lock()
	r.published = append(r.published, *req)
	r.mu.Unlock()
	return nil
}

// to returns the publishes that went to topic.
func (r *recorder) to(topic string) []pubsub.PublishRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []pubsub.PublishRequest
	for _, p := range r.published {
		if p.Topic == topic {
			out = append(out, p)
		}
	}
	return out
}

// newStore returns an initialised in-memory state store component.
func newStore(t *testing.T, name string) *state.Component {
	t.Helper()
	s := stmemory.New()
	if err := s.Init(context.Background(), state.Metadata{Name: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	keys, err := state.NewKeyScheme("", testApp, name, "")
	if err != nil {
		t.Fatal(err)
	}
	return state.NewComponent(name, "state.in-memory", "v1", s, keys, false)
}

// newBroker returns an initialised in-memory broker.
func newBroker(t *testing.T) *psmemory.Broker {
	t.Helper()
	b := psmemory.New()
	if err := b.Init(context.Background(), pubsub.Metadata{Name: "ps", Properties: map[string]string{pubsub.MetaConsumerID: testApp}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// component names a (wrapped) broker "ps".
func component(b pubsub.Broker) *pubsub.Component {
	return pubsub.NewComponent("ps", "pubsub.in-memory", "v1", b, pubsub.Scopes{})
}

// start builds an outbox for store on pub/sub ps and starts its relay;
// it is stopped with the test.
func start(t *testing.T, store *state.Component, ps *pubsub.Component, sc StoreConfig, wait time.Duration) *Outbox {
	t.Helper()
	return startWith(t, Config{AppID: testApp, Stores: []StoreConfig{sc}, StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{ps}, MarkerWait: wait})
}

// startWith builds an outbox from cfg and starts its relay; it is stopped
// with the test.
func startWith(t *testing.T, cfg Config) *Outbox {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop(context.Background()) })
	return o
}

func config(store string) StoreConfig {
	return StoreConfig{Store: store, PublishPubSub: "ps", PublishTopic: testTopic, InternalPubSub: "ps"}
}

// transact does what the API core does: Begin, Multi, done.
func transact(ctx context.Context, o *Outbox, s *state.Component, ops ...state.Operation) error {
	req, done, err := o.Begin(ctx, s.Name, state.TransactionRequest{Operations: ops})
	if err != nil {
		return err
	}
	err = s.Store.(state.Transactional).Multi(ctx, req)
	done(err)
	return err
}

func upsert(s *state.Component, key, value string, md map[string]string) state.Operation {
	return state.Operation{Type: state.OpUpsert, Set: state.SetRequest{Key: s.Keys.Stored(key), Value: []byte(value), Metadata: md}}
}

func binaryUpsert(s *state.Component, key string, value []byte) state.Operation {
	return state.Operation{Type: state.OpUpsert, Set: state.SetRequest{Key: s.Keys.Stored(key), Value: value, Binary: true}}
}

func del(s *state.Component, key string) state.Operation {
	return state.Operation{Type: state.OpDelete, Delete: state.DeleteRequest{Key: s.Keys.Stored(key)}}
}

// observe subscribes a separate consumer group to the user topic and
// returns the CloudEvents it receives.
func observe(t *testing.T, b pubsub.Broker) <-chan map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan map[string]any, 100)
	err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: testTopic, Metadata: map[string]string{pubsub.MetaConsumerID: "observer"}},
		func(_ context.Context, msg *pubsub.Message) error {
			ce, err := pubsub.ParseEnvelope(msg.Data)
			if err != nil {
				t.Errorf("observer got a non-CloudEvent %q: %v", msg.Data, err)
				return nil
			}
			out <- ce
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func receive(t *testing.T, ch <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case ce := <-ch:
		return ce
	case <-time.After(5 * time.Second):
		t.Fatal("no event received")
		return nil
	}
}

// waitFor polls cond until it holds, failing after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, 5*time.Second, what, cond)
}

// stateKeys lists the stored keys of the in-memory store.
func stateKeys(t *testing.T, s *state.Component) []string {
	t.Helper()
	keys, _, err := s.Store.(state.KeysLiker).KeysLike(context.Background(), "%", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func get(t *testing.T, s *state.Component, key string) string {
	t.Helper()
	res, err := s.Store.Get(context.Background(), state.GetRequest{Key: s.Keys.Stored(key)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Found {
		return "<missing>"
	}
	return string(res.Data)
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
