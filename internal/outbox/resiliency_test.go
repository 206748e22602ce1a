package outbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/state"
)

// pubsubPolicy is a provider whose pub/sub "ps" has the named outbound
// policies.
func pubsubPolicy(t *testing.T, names resources.PolicyNames) *resiliency.Provider {
	t.Helper()
	three := 3
	p, err := resiliency.New([]resources.Resiliency{{
		Metadata: resources.ObjectMeta{Name: "r"},
		Spec: resources.ResiliencySpec{
			Policies: resources.Policies{
				Timeouts: map[string]resources.Duration{"short": "20ms"},
				Retries:  map[string]resources.RetryPolicy{"three": {Duration: "1ms", MaxRetries: &three}},
				CircuitBreakers: map[string]resources.CircuitBreakerPolicy{
					"cb": {Trip: "consecutiveFailures >= 2", Timeout: "1h"},
				},
			},
			Targets: resources.Targets{Components: map[string]resources.ComponentPolicyNames{"ps": {Outbound: names}}},
		},
	}}, resiliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// flakyTopic makes publishes to the user topic (internal false) or to the
// internal one fail at first, or wait for their context; it counts them
// and notes how long the last one had before its deadline.
type flakyTopic struct {
	topicFaults

	mu       sync.Mutex
	attempts int
	budget   time.Duration
}

func (f *flakyTopic) hook(ctx context.Context, req *pubsub.PublishRequest) error {
	if (req.Topic == testTopic) == f.internal {
		return nil
	}
	f.mu.Lock()
	f.attempts++
	n := f.attempts
	if dl, ok := ctx.Deadline(); ok {
		f.budget = time.Until(dl)
	}
	f.mu.Unlock()
	if f.slow {
		<-ctx.Done()
		return ctx.Err()
	}
	if n <= f.failures {
		return errors.New("broker busy")
	}
	return nil
}

func (f *flakyTopic) counts() (int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts, f.budget
}

// topicFaults configures a flakyTopic.
type topicFaults struct {
	internal bool
	failures int
	slow     bool
}

func TestPublishesUsePubsubPolicy(t *testing.T) {
	tests := []struct {
		name     string
		policy   resources.PolicyNames
		topic    topicFaults
		wantErr  string // of the transaction; "" = committed and relayed
		attempts int    // publishes tried on the flaky topic
		relayed  bool   // the event reached the user topic
	}{
		{name: "internal publish fails twice", policy: resources.PolicyNames{Retry: "three"},
			topic: topicFaults{internal: true, failures: 2}, attempts: 3, relayed: true},
		{name: "internal publish retries exhausted", policy: resources.PolicyNames{Retry: "three"},
			topic: topicFaults{internal: true, failures: 10}, attempts: 4, wantErr: "broker busy"},
		{name: "internal publish without policy", topic: topicFaults{internal: true, failures: 1},
			attempts: 1, wantErr: "broker busy"},
		{name: "internal publish times out", policy: resources.PolicyNames{Timeout: "short"},
			topic: topicFaults{internal: true, slow: true}, attempts: 1, wantErr: "context deadline exceeded"},
		{name: "relay publish fails twice", policy: resources.PolicyNames{Retry: "three"},
			topic: topicFaults{failures: 2}, attempts: 3, relayed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, b := newStore(t, "store"), newBroker(t)
			flaky := &flakyTopic{topicFaults: tt.topic}
			rec := &recorder{Broker: b, hook: flaky.hook}
			var res *resiliency.Provider
			if tt.policy != (resources.PolicyNames{}) {
				res = pubsubPolicy(t, tt.policy)
			}
			ps := component(rec)
			o := startWith(t, Config{AppID: testApp, Stores: []StoreConfig{config("store")},
				StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{ps}, MarkerWait: time.Minute, Resiliency: res})
			events := observe(t, b)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := transact(ctx, o, store, upsert(store, "k", `"v"`, nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("transaction = %v, want an error with %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.relayed {
				if ce := receive(t, events); ce["data"] != "v" {
					t.Errorf("event data = %v", ce["data"])
				}
				waitFor(t, "the relay to finish", func() bool { return o.relayed.Load() == 1 })
				// The policy retried the publish: the broker handed the
				// internal message over once, with no redelivery.
				if n := rec.deliveries(config("store").internalTopic(testApp, "")); n != 1 {
					t.Errorf("internal message delivered %d times, want 1", n)
				}
			}
			attempts, budget := flaky.counts()
			if attempts != tt.attempts {
				t.Errorf("%d publishes tried, want %d", attempts, tt.attempts)
			}
			if tt.topic.slow && budget > 5*time.Second {
				t.Errorf("publish had %v left, want the policy's 20ms", budget)
			}
		})
	}
}

func TestInternalPublishBreakerOpens(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	flaky := &flakyTopic{topicFaults: topicFaults{internal: true, failures: 100}}
	rec := &recorder{Broker: b, hook: flaky.hook}
	o := startWith(t, Config{AppID: testApp, Stores: []StoreConfig{config("store")},
		StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{component(rec)}, MarkerWait: time.Minute,
		Resiliency: pubsubPolicy(t, resources.PolicyNames{CircuitBreaker: "cb"})})
	ctx := context.Background()
	for range 2 {
		if err := transact(ctx, o, store, upsert(store, "k", `1`, nil)); err == nil || !strings.Contains(err.Error(), "broker busy") {
			t.Fatalf("transaction = %v, want the broker's error", err)
		}
	}
	err := transact(ctx, o, store, upsert(store, "k", `1`, nil))
	if !errors.Is(err, resiliency.ErrCircuitOpen) {
		t.Fatalf("third transaction = %v, want the open breaker", err)
	}
	if n, _ := flaky.counts(); n != 2 {
		t.Errorf("%d publishes reached the broker, want 2", n)
	}
}
