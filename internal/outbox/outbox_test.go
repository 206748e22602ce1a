package outbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

func TestCommittedTransactionPublishesEachUpsertOnce(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	rec := &recorder{Broker: b}
	o := start(t, store, component(rec), config("store"), time.Minute)
	events := observe(t, b)

	err := transact(context.Background(), o, store,
		upsert(store, "order1", `{"id":1,"total":12.50}`, nil),
		binaryUpsert(store, "order2", []byte("plain text")),
		binaryUpsert(store, "order3", []byte{0xff, 0x00}),
		del(store, "order4"))
	if err != nil {
		t.Fatalf("transaction: %v", err)
	}

	got := map[string]map[string]any{}
	for range 3 {
		ce := receive(t, events)
		got[jsonString(t, ce["data"])+jsonString(t, ce["data_base64"])] = ce
	}
	want := []struct{ data, contentType string }{
		{`{"id":1,"total":12.50}null`, "application/json"},
		{`"plain text"null`, "text/plain"},
		{`null"/wA="`, "application/octet-stream"},
	}
	for _, w := range want {
		ce, ok := got[w.data]
		if !ok {
			t.Errorf("no event with data %s; got %v", w.data, got)
			continue
		}
		checkAttrs(t, ce, map[string]string{"datacontenttype": w.contentType, "topic": testTopic, "pubsubname": "ps",
			"source": testApp, "type": "com.dapr.event.sent", "specversion": "1.0"})
		if id, _ := ce["id"].(string); !strings.HasPrefix(id, eventIDPrefix) {
			t.Errorf("id = %q, want prefix %q", id, eventIDPrefix)
		}
	}

	waitFor(t, "the message to be handled", func() bool { return o.relayed.Load() == 1 })
	if n := len(rec.to(testTopic)); n != 3 {
		t.Errorf("%d publishes to the user topic, want 3", n)
	}
	if keys := stateKeys(t, store); len(keys) != 3 {
		t.Errorf("stored keys = %v, want the three orders and no marker", keys)
	}
	if v := get(t, store, "order1"); v != `{"id":1,"total":12.50}` {
		t.Errorf("order1 = %s", v)
	}
}

func checkAttrs(t *testing.T, ce map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if ce[k] != v {
			t.Errorf("%s = %v, want %q (event %v)", k, ce[k], v, ce)
		}
	}
}

func TestFailedTransactionPublishesNothing(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	rec := &recorder{Broker: b}
	// A minute's marker wait: the drop below must come from knowing the
	// transaction failed, not from the wait running out.
	o := start(t, store, component(rec), config("store"), time.Minute)
	ctx := context.Background()
	if err := store.Store.Set(ctx, state.SetRequest{Key: store.Keys.Stored("k"), Value: []byte(`"v1"`)}); err != nil {
		t.Fatal(err)
	}
	stale := "12345"
	op := upsert(store, "k", `"v2"`, nil)
	op.Set.ETag = &stale

	began := time.Now()
	if err := transact(ctx, o, store, op, upsert(store, "other", `"x"`, nil)); err == nil {
		t.Fatal("transaction with a stale etag succeeded")
	}
	waitFor(t, "the message to be dropped", func() bool { return o.dropped.Load() == 1 })
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("dropping took %v", d)
	}
	if n := len(rec.to(o.routes[0].topic)); n != 1 {
		t.Errorf("%d internal messages, want 1", n)
	}
	if p := rec.to(testTopic); len(p) != 0 {
		t.Errorf("published %d events for a failed transaction: %q", len(p), p[0].Data)
	}
	if v := get(t, store, "k"); v != `"v1"` {
		t.Errorf("k = %s, want the old value", v)
	}
	if keys := stateKeys(t, store); len(keys) != 1 {
		t.Errorf("stored keys = %v, want only k", keys)
	}
}

func TestProjection(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	o := start(t, store, component(b), config("store"), time.Minute)
	events := observe(t, b)

	err := transact(context.Background(), o, store,
		upsert(store, "order1", `{"id":1,"secret":"s"}`, map[string]string{"outbox.cloudevent.type": "OrderCreated"}),
		upsert(store, "order1", `{"id":1}`, map[string]string{"outbox.projection": "true", "outbox.cloudevent.subject": "order1"}),
		upsert(store, "order1", `"ignored second projection"`, map[string]string{"outbox.projection": "true"}))
	if err != nil {
		t.Fatalf("transaction: %v", err)
	}
	ce := receive(t, events)
	if got := jsonString(t, ce["data"]); got != `{"id":1}` {
		t.Errorf("published data = %s, want the projection", got)
	}
	checkAttrs(t, ce, map[string]string{"type": "OrderCreated", "subject": "order1"})
	if v := get(t, store, "order1"); v != `{"id":1,"secret":"s"}` {
		t.Errorf("stored order1 = %s, want the upsert, not the projection", v)
	}
	waitFor(t, "the message to be handled", func() bool { return o.pending.len() == 0 })
	select {
	case extra := <-events:
		t.Errorf("extra event %v", extra)
	default:
	}
}

func TestProjectionWithoutUpsertFailsTheTransaction(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	rec := &recorder{Broker: b}
	o := start(t, store, component(rec), config("store"), time.Minute)
	err := transact(context.Background(), o, store,
		upsert(store, "a", `1`, nil),
		upsert(store, "b", `2`, map[string]string{"outbox.projection": "true"}))
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("err = %v, want a projection error naming key b", err)
	}
	if len(rec.published) != 0 || len(stateKeys(t, store)) != 0 {
		t.Errorf("published %d messages and stored %v", len(rec.published), stateKeys(t, store))
	}
}

func TestCloudEventOverrides(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	o := start(t, store, component(b), config("store"), time.Minute)
	events := observe(t, b)
	md := map[string]string{
		"outbox.cloudevent.id": "business-id", "outbox.cloudevent.source": "CustomersApp",
		"outbox.cloudevent.myapp": "myapp1", "outbox.cloudevent.data": "reserved",
		"data": "a", "id": "b",
	}
	if err := transact(context.Background(), o, store, upsert(store, "1", `"2"`, md)); err != nil {
		t.Fatal(err)
	}
	ce := receive(t, events)
	checkAttrs(t, ce, map[string]string{"id": "business-id", "source": "CustomersApp", "outbox.cloudevent.myapp": "myapp1", "data": "2"})
}

func TestDeletesOnlyPublishNothing(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	rec := &recorder{Broker: b}
	o := start(t, store, component(rec), config("store"), time.Minute)
	req, _, err := o.Begin(context.Background(), "store", state.TransactionRequest{Operations: []state.Operation{del(store, "x")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Operations) != 1 || len(rec.published) != 0 || o.pending.len() != 0 {
		t.Errorf("ops %v, %d publishes, %d pending; want the delete alone and nothing published", req.Operations, len(rec.published), o.pending.len())
	}
}

// A sidecar crashes after its transaction committed, while publishing
// the events; the app's other (or restarted) sidecar gets the internal
// message and publishes them.
func TestCrashBeforeFinalPublish(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	events := observe(t, b)
	entered := make(chan struct{}, 1)
	crashing := &recorder{Broker: b, hook: func(ctx context.Context, req *pubsub.PublishRequest) error {
		if req.Topic != testTopic {
			return nil
		}
		entered <- struct{}{}
		<-ctx.Done() // the sidecar dies here
		return ctx.Err()
	}}
	first, err := New(Config{AppID: testApp, Stores: []StoreConfig{config("store")}, StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{component(crashing)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := transact(context.Background(), first, store, upsert(store, "k", `"v"`, nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first sidecar never tried to publish")
	}

	rec := &recorder{Broker: b}
	second := start(t, store, component(rec), config("store"), time.Minute)
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	ce := receive(t, events)
	if got := jsonString(t, ce["data"]); got != `"v"` {
		t.Errorf("data = %s", got)
	}
	waitFor(t, "the marker to be deleted", func() bool { return len(stateKeys(t, store)) == 1 })
	if n := len(rec.to(testTopic)); n != 1 {
		t.Errorf("second sidecar published %d events, want 1", n)
	}
	if n := len(crashing.to(testTopic)); n != 0 {
		t.Errorf("crashed sidecar published %d events", n)
	}
	if second.pending.len() != 0 {
		t.Errorf("second sidecar has %d pending transactions", second.pending.len())
	}
}

// A message whose transaction this sidecar does not know and that never
// commits (its sidecar died between the internal publish and the commit)
// is dropped once the marker wait has passed, or at once with
// outboxDiscardWhenMissingState.
func TestUncommittedForeignTransaction(t *testing.T) {
	const wait = 400 * time.Millisecond
	tests := []struct {
		name    string
		discard bool
		wait    time.Duration
		early   bool // dropped well before the wait runs out
	}{
		{"wait", false, wait, false},
		{"discard", true, 10 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, b := newStore(t, "store"), newBroker(t)
			rec := &recorder{Broker: b}
			cfg := config("store")
			cfg.DiscardWhenMissingState = tt.discard
			relay := start(t, store, component(rec), cfg, tt.wait)

			// The dying sidecar: Begin publishes, Multi never runs.
			dying, err := New(Config{AppID: testApp, Stores: []StoreConfig{cfg}, StateStores: []*state.Component{store}, PubSubs: []*pubsub.Component{component(rec)}})
			if err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			if _, _, err := dying.Begin(context.Background(), "store", state.TransactionRequest{Operations: []state.Operation{upsert(store, "k", `1`, nil)}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the message to be dropped", func() bool { return relay.dropped.Load() == 1 })
			elapsed := time.Since(began)
			if tt.early && elapsed >= tt.wait/2 {
				t.Errorf("dropped after %v, want at once", elapsed)
			}
			if !tt.early && elapsed < tt.wait {
				t.Errorf("dropped after %v, before the %v marker wait", elapsed, tt.wait)
			}
			if n := len(rec.to(testTopic)); n != 0 || relay.relayed.Load() != 0 {
				t.Errorf("published %d events for a transaction that never committed", n)
			}
		})
	}
}

func TestInternalPublishFailureRejectsTheTransaction(t *testing.T) {
	store, b := newStore(t, "store"), newBroker(t)
	rec := &recorder{Broker: b, hook: func(context.Context, *pubsub.PublishRequest) error { return errors.New("broker down") }}
	o := start(t, store, component(rec), config("store"), time.Minute)
	_, _, err := o.Begin(context.Background(), "store", state.TransactionRequest{Operations: []state.Operation{upsert(store, "k", `1`, nil)}})
	if err == nil || !strings.Contains(err.Error(), "broker down") {
		t.Fatalf("err = %v, want the broker's error", err)
	}
	if o.pending.len() != 0 {
		t.Errorf("%d pending after a failed Begin", o.pending.len())
	}
}
