package outbox

import (
	"context"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

func TestParseStoreConfig(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		want    StoreConfig
		ok      bool
		wantErr string
	}{
		{"no outbox", map[string]string{"keyPrefix": "name"}, StoreConfig{}, false, ""},
		{"minimal", map[string]string{"outboxPublishPubsub": "ps", "outboxPublishTopic": "t"},
			StoreConfig{Store: "s", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "ps"}, true, ""},
		{"all keys, any case", map[string]string{"OUTBOXPUBLISHPUBSUB": "ps", "outboxPublishTopic": "t", "outboxPubsub": "internal",
			"outboxInternalTopic": "custom", "outboxDiscardWhenMissingState": "true"},
			StoreConfig{Store: "s", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "internal", InternalTopic: "custom", DiscardWhenMissingState: true}, true, ""},
		{"discard false", map[string]string{"outboxPublishPubsub": "ps", "outboxPublishTopic": "t", "outboxDiscardWhenMissingState": "false"},
			StoreConfig{Store: "s", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "ps"}, true, ""},
		{"topic missing", map[string]string{"outboxPublishPubsub": "ps"}, StoreConfig{}, false, "outboxPublishTopic is missing"},
		{"pubsub missing", map[string]string{"outboxPublishTopic": "t", "outboxPubsub": "x"}, StoreConfig{}, false, "outboxPublishPubsub is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseStoreConfig("s", tt.props)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok || got != tt.want {
				t.Fatalf("got %+v, %v, %v; want %+v, %v", got, ok, err, tt.want, tt.ok)
			}
		})
	}
}

func TestInternalTopic(t *testing.T) {
	c := StoreConfig{PublishTopic: "newOrder"}
	if got := c.internalTopic("myapp", ""); got != "myappnewOrderoutbox" {
		t.Errorf("internalTopic = %q", got)
	}
	if got := c.internalTopic("myapp", "prod"); got != "prodmyappnewOrderoutbox" {
		t.Errorf("namespaced internalTopic = %q", got)
	}
	c.InternalTopic = "custom-outbox-topic"
	if got := c.internalTopic("myapp", "prod"); got != "custom-outbox-topic" {
		t.Errorf("explicit internalTopic = %q", got)
	}
}

func TestMarkerKeyCannotBeAUserKey(t *testing.T) {
	k := markerKey("myapp", "tx")
	for _, strategy := range []string{"", "name", "none", "outbox", "myapp"} {
		keys, err := state.NewKeyScheme(strategy, "myapp", "store", "")
		if err != nil {
			t.Fatal(err)
		}
		if user := keys.User(k); state.ValidateKey(user) == nil && keys.Stored(user) == k {
			t.Errorf("keyPrefix %q: user key %q is stored as the marker %q", strategy, user, k)
		}
	}
}

// plainStore is a state store without transactions.
type plainStore struct{ state.Store }

func (plainStore) Features() []state.Feature { return []state.Feature{state.FeatureETag} }

func TestNewErrors(t *testing.T) {
	good := newStore(t, "store")
	plain := state.NewComponent("plain", "state.plain", "v1", plainStore{}, good.Keys, false)
	ps := pubsub.NewComponent("ps", "pubsub.in-memory", "v1", newBroker(t), pubsub.Scopes{})
	tests := []struct {
		name string
		sc   StoreConfig
		want string
	}{
		{"publish pubsub missing", StoreConfig{Store: "store", PublishPubSub: "nope", PublishTopic: "t", InternalPubSub: "ps"},
			`outbox of state store "store": outboxPublishPubsub names pub/sub "nope", which is not loaded`},
		{"internal pubsub missing", StoreConfig{Store: "store", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "gone"},
			`outbox of state store "store": outboxPubsub names pub/sub "gone", which is not loaded`},
		{"store not transactional", StoreConfig{Store: "plain", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "ps"},
			`outbox of state store "plain": state.plain does not support transactions (TRANSACTIONAL)`},
		{"store not loaded", StoreConfig{Store: "absent", PublishPubSub: "ps", PublishTopic: "t", InternalPubSub: "ps"},
			`outbox of state store "absent": the store is not loaded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{AppID: testApp, Stores: []StoreConfig{tt.sc}, StateStores: []*state.Component{good, plain}, PubSubs: []*pubsub.Component{ps}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// Two stores publishing to the same topic share one internal topic and
// subscription; each message reaches its own store's marker.
func TestStoresShareAnInternalTopic(t *testing.T) {
	a, b := newStore(t, "a"), newStore(t, "b")
	broker := newBroker(t)
	ps := component(broker)
	o, err := New(Config{AppID: testApp, Stores: []StoreConfig{config("a"), config("b")}, StateStores: []*state.Component{a, b}, PubSubs: []*pubsub.Component{ps}})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.routes) != 1 {
		t.Fatalf("%d internal subscriptions, want 1", len(o.routes))
	}
	if err := o.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Stop(context.Background()) })
	events := observe(t, broker)
	ctx := context.Background()
	if err := transact(ctx, o, a, upsert(a, "k", `"from a"`, nil)); err != nil {
		t.Fatal(err)
	}
	if err := transact(ctx, o, b, upsert(b, "k", `"from b"`, nil)); err != nil {
		t.Fatal(err)
	}
	got := map[any]bool{}
	for range 2 {
		got[receive(t, events)["data"]] = true
	}
	if !got["from a"] || !got["from b"] {
		t.Errorf("events = %v", got)
	}
	waitFor(t, "both messages relayed", func() bool { return o.relayed.Load() == 2 })
	if len(stateKeys(t, a)) != 1 || len(stateKeys(t, b)) != 1 {
		t.Errorf("keys a=%v b=%v, want no markers left", stateKeys(t, a), stateKeys(t, b))
	}
}

func TestEnabledOnNil(t *testing.T) {
	var o *Outbox
	if o.Enabled("store") {
		t.Error("nil outbox enabled")
	}
	if err := o.Start(context.Background()); err != nil {
		t.Error(err)
	}
	if err := o.Stop(context.Background()); err != nil {
		t.Error(err)
	}
}
