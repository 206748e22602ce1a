package configtest

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/configuration"
)

// Backend is one store under test plus direct access to its data.
type Backend struct {
	// Store is initialised; the caller closes it.
	Store configuration.Store
	// Set writes an item straight into the backend.
	Set func(t *testing.T, key string, it configuration.Item)
	// Delete removes an item straight from the backend.
	Delete func(t *testing.T, key string)
	// Prefix is put in front of every key the suite uses, so runs sharing
	// one keyspace (a Redis database) never collide.
	Prefix string
	// Shared means the keyspace holds other keys too: a full Get must
	// contain the suite's keys but may contain more.
	Shared bool
	// Metadata means the store keeps item metadata.
	Metadata bool
	// DeleteKeepsValue means a delete is delivered with the deleted item's
	// value (PostgreSQL's trigger sends the old row) rather than an empty one.
	DeleteKeepsValue bool
	// SubscribeMetadata is passed to every Subscribe.
	SubscribeMetadata map[string]string
}

// waitFor bounds how long the suite waits for one update.
const waitFor = 5 * time.Second

// quiet is how long the suite watches for updates that must not come.
const quiet = 300 * time.Millisecond

// Run runs the conformance suite.
func Run(t *testing.T, b Backend) {
	t.Run("get", func(t *testing.T) { testGet(t, b) })
	t.Run("get all", func(t *testing.T) { testGetAll(t, b) })
	t.Run("subscribe keys", func(t *testing.T) { testSubscribeKeys(t, b) })
	t.Run("subscribe all", func(t *testing.T) { testSubscribeAll(t, b) })
	t.Run("unsubscribe", func(t *testing.T) { testUnsubscribe(t, b) })
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testGet(t *testing.T, b Backend) {
	a, plain, missing := b.Prefix+"get-a", b.Prefix+"get-plain", b.Prefix+"get-missing"
	want := map[string]configuration.Item{
		a:     {Value: "va", Version: "3"},
		plain: {Value: "just a value"},
	}
	if b.Metadata {
		want[a] = configuration.Item{Value: "va", Version: "3", Metadata: map[string]string{"owner": "team-a"}}
	}
	for k, it := range want {
		b.Set(t, k, it)
	}
	got, err := b.Store.Get(ctxFor(t), []string{a, plain, missing}, nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertItems(t, got, want, false)
}

func testGetAll(t *testing.T, b Backend) {
	x, y := b.Prefix+"all-x", b.Prefix+"all-y"
	want := map[string]configuration.Item{x: {Value: "vx", Version: "1"}, y: {Value: "vy", Version: "2"}}
	for k, it := range want {
		b.Set(t, k, it)
	}
	got, err := b.Store.Get(ctxFor(t), nil, nil)
	if err != nil {
		t.Fatalf("Get all: %v", err)
	}
	if !b.Shared {
		// Earlier subtests wrote other keys to the same table: keep the
		// comparison to this subtest's keys but require nothing foreign.
		for k := range got {
			if !strings.HasPrefix(k, b.Prefix) {
				t.Errorf("Get all returned foreign key %q", k)
			}
		}
	}
	assertItems(t, got, want, true)
}

func testSubscribeKeys(t *testing.T, b Backend) {
	a, other := b.Prefix+"sub-a", b.Prefix+"sub-other"
	b.Set(t, a, configuration.Item{Value: "before", Version: "1"})
	rec := newRecorder(b.Prefix)
	id, err := b.Store.Subscribe(ctxFor(t), []string{a}, b.SubscribeMetadata, rec.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = b.Store.Unsubscribe(context.Background(), id) })

	b.Set(t, a, configuration.Item{Value: "after", Version: "2"})
	rec.expect(t, id, a, configuration.Item{Value: "after", Version: "2"})

	// A key outside the subscription must not be delivered: change it,
	// then the subscribed key, and the next update must be the latter.
	b.Set(t, other, configuration.Item{Value: "ignored", Version: "1"})
	b.Set(t, a, configuration.Item{Value: "again", Version: "3"})
	rec.expect(t, id, a, configuration.Item{Value: "again", Version: "3"})

	b.Delete(t, a)
	deleted := configuration.Item{}
	if b.DeleteKeepsValue {
		deleted = configuration.Item{Value: "again", Version: "3"}
	}
	rec.expect(t, id, a, deleted)
}

func testSubscribeAll(t *testing.T, b Backend) {
	c := b.Prefix + "any-c"
	rec := newRecorder(b.Prefix)
	id, err := b.Store.Subscribe(ctxFor(t), nil, b.SubscribeMetadata, rec.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { _ = b.Store.Unsubscribe(context.Background(), id) })
	b.Set(t, c, configuration.Item{Value: "vc", Version: "7"})
	rec.expect(t, id, c, configuration.Item{Value: "vc", Version: "7"})
}

func testUnsubscribe(t *testing.T, b Backend) {
	k := b.Prefix + "unsub-k"
	rec := newRecorder(b.Prefix)
	ctx := ctxFor(t)
	id, err := b.Store.Subscribe(ctx, []string{k}, b.SubscribeMetadata, rec.handle)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	b.Set(t, k, configuration.Item{Value: "one", Version: "1"})
	rec.expect(t, id, k, configuration.Item{Value: "one", Version: "1"})
	if err := b.Store.Unsubscribe(ctx, id); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	b.Set(t, k, configuration.Item{Value: "two", Version: "2"})
	rec.expectNone(t)
	if err := b.Store.Unsubscribe(ctx, id); err == nil {
		t.Error("second Unsubscribe of the same id succeeded; want an error")
	}
	if err := b.Store.Unsubscribe(ctx, "no-such-subscription"); err == nil {
		t.Error("Unsubscribe of an unknown id succeeded; want an error")
	}
}

// update is one delivered item.
type update struct {
	id, key string
	item    configuration.Item
}

// recorder collects the updates for keys with the suite's prefix; a shared
// keyspace also carries other tests' changes.
type recorder struct {
	prefix string
	ch     chan update
}

func newRecorder(prefix string) *recorder {
	return &recorder{prefix: prefix, ch: make(chan update, 64)}
}

func (r *recorder) handle(ctx context.Context, id string, items map[string]*configuration.Item) error {
	for k, it := range items {
		if !strings.HasPrefix(k, r.prefix) {
			continue
		}
		select {
		case r.ch <- update{id: id, key: k, item: *it}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *recorder) expect(t *testing.T, id, key string, want configuration.Item) {
	t.Helper()
	select {
	case u := <-r.ch:
		if u.id != id || u.key != key || !sameItem(u.item, want) {
			t.Fatalf("update = id %q key %q %+v; want id %q key %q %+v", u.id, u.key, u.item, id, key, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("no update for %q within %s", key, waitFor)
	}
}

func (r *recorder) expectNone(t *testing.T) {
	t.Helper()
	select {
	case u := <-r.ch:
		t.Fatalf("unexpected update after unsubscribe: %+v", u)
	case <-time.After(quiet):
	}
}

func assertItems(t *testing.T, got map[string]*configuration.Item, want map[string]configuration.Item, subset bool) {
	t.Helper()
	if !subset && len(got) != len(want) {
		t.Errorf("got %d items, want %d: %v", len(got), len(want), keysOf(got))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("item %q missing", k)
			continue
		}
		if !sameItem(*g, w) {
			t.Errorf("item %q = %+v, want %+v", k, *g, w)
		}
	}
}

// sameItem compares items, treating nil and empty metadata alike.
func sameItem(a, b configuration.Item) bool {
	return a.Value == b.Value && a.Version == b.Version && maps.Equal(a.Metadata, b.Metadata)
}

func keysOf(m map[string]*configuration.Item) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
