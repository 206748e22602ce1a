package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
)

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pubsub.db")
	pubsubtest.Run(t, pubsubtest.Config{
		New:            func() pubsub.Broker { return New() },
		Metadata:       pubsub.Metadata{Name: "pubsub", Properties: map[string]string{"connectionString": path}},
		Ordered:        true,
		Durable:        true,
		ConsumerGroups: true,
		// The disruption a SQLite broker meets: another process holding
		// the write lock for a while.
		Restart: func(t *testing.T) { holdWriteLock(t, path, 2*time.Second) },
	})
}

// holdWriteLock takes the database's write lock from another connection
// and releases it after d, in the background.
func holdWriteLock(t *testing.T, path string, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
		db.Close()
	}()
	t.Cleanup(func() { <-done })
}

func TestRegistered(t *testing.T) {
	b, err := pubsub.Registry.Create("pubsub.sqlite", "v1")
	if err != nil {
		t.Fatalf("Registry.Create: %v", err)
	}
	if _, ok := b.(*Broker); !ok {
		t.Fatalf("Registry.Create returned %T, want *sqlite.Broker", b)
	}
}

func TestParseConfig(t *testing.T) {
	good := []struct {
		props map[string]string
		check func(config) bool
	}{
		{map[string]string{"connectionString": "a.db"}, func(c config) bool {
			return c.visibilityTimeout == 30*time.Second && c.pollInterval == 50*time.Millisecond &&
				c.concurrency == 100 && c.tablePrefix == "pubsub_" && c.retentionPeriod == 24*time.Hour
		}},
		{map[string]string{"url": "a.db", "redeliveryTimeout": "5", "retryBackoff": "1s", "maxRetryBackoff": "500ms"}, func(c config) bool {
			return c.visibilityTimeout == 5*time.Second && c.retryBackoff == time.Second && c.maxRetryBackoff == time.Second
		}},
		{map[string]string{"ConnectionString": "a.db", "CONCURRENCY": "3", "tablePrefix": "ps1_", "cleanupInterval": "0"}, func(c config) bool {
			return c.concurrency == 3 && c.tablePrefix == "ps1_" && c.cleanupInterval == 0
		}},
	}
	for _, g := range good {
		c, err := parseConfig(g.props)
		if err != nil || !g.check(c) {
			t.Errorf("parseConfig(%v) = %+v, %v", g.props, c, err)
		}
	}
	bad := []map[string]string{
		{},
		{"connectionString": " "},
		{"connectionString": "a.db", "visibilityTimeout": "10ms"},
		{"connectionString": "a.db", "pollInterval": "soon"},
		{"connectionString": "a.db", "concurrency": "0"},
		{"connectionString": "a.db", "tablePrefix": "x;drop"},
		{"connectionString": "a.db", "tablePrefix": ""},
		{"connectionString": "a.db", "disableWAL": "maybe"},
		{"connectionString": "a.db", "retentionPeriod": "10s"},
	}
	for _, props := range bad {
		if c, err := parseConfig(props); err == nil {
			t.Errorf("parseConfig(%v) = %+v, want an error", props, c)
		}
	}
}

func TestDSN(t *testing.T) {
	c := config{connString: "file:a.db?cache=shared", busyTimeout: 5 * time.Second}
	dsn, err := c.dsn()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file:a.db?", "cache=shared", "_txlock=immediate", "busy_timeout%285000%29", "journal_mode%28WAL%29", "synchronous%28NORMAL%29"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("dsn() = %q, lacks %q", dsn, want)
		}
	}
	wdsn, err := c.writeDSN()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wdsn, "busy_timeout%280%29") || strings.Contains(wdsn, "busy_timeout%285000%29") {
		t.Errorf("writeDSN() = %q, want busy_timeout(0): the broker waits for the write lock itself", wdsn)
	}
	c.connString = "a.db?_pragma=journal_mode(DELETE)"
	if _, err := c.dsn(); err == nil {
		t.Error("dsn() accepted a journal_mode pragma")
	}
}

func TestBackoff(t *testing.T) {
	c := config{retryBackoff: 100 * time.Millisecond, maxRetryBackoff: time.Second}
	for _, x := range []struct {
		attempts int
		want     time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}} {
		if got := c.backoff(x.attempts); got != x.want {
			t.Errorf("backoff(%d) = %s, want %s", x.attempts, got, x.want)
		}
	}
}

// open initialises a broker on path and closes it with the test.
func open(t *testing.T, path string, props map[string]string) *Broker {
	t.Helper()
	all := map[string]string{"connectionString": path, "consumerID": "app"}
	for k, v := range props {
		all[k] = v
	}
	b := New()
	if err := b.Init(t.Context(), pubsub.Metadata{Name: "test", Properties: all}); err != nil {
		t.Fatalf("Init(%v): %v", all, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// collect subscribes and returns a channel of delivered payloads.
func collect(t *testing.T, b *Broker, topic string) <-chan string {
	t.Helper()
	ch := make(chan string, 1000)
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic}, func(_ context.Context, m *pubsub.Message) error {
		ch <- string(m.Data)
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return ch
}

func publish(t *testing.T, b *Broker, topic, data string, md map[string]string) {
	t.Helper()
	if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte(data), ContentType: "text/plain", Metadata: md}); err != nil {
		t.Fatalf("Publish(%q): %v", data, err)
	}
}

func expectMessage(t *testing.T, ch <-chan string, want string, within time.Duration) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(within):
		t.Fatalf("%q not delivered within %s", want, within)
	}
}

// expectMessages takes n deliveries in any order, each within the given
// time of the one before, and returns them as a set.
func expectMessages(t *testing.T, ch <-chan string, n int, within time.Duration) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	for range n {
		select {
		case m := <-ch:
			got[m] = true
		case <-time.After(within):
			t.Fatalf("only %v of %d messages delivered (%s each)", got, n, within)
		}
	}
	return got
}

// TestCrossInstanceWakeUp: a subscriber in another instance (as in another
// process) learns of a publish through the data_version poll, fast.
func TestCrossInstanceWakeUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	pub, sub := open(t, path, nil), open(t, path, nil)
	ch := collect(t, sub, "t")
	time.Sleep(100 * time.Millisecond) // let the subscriber go idle
	start := time.Now()
	publish(t, pub, "t", "hello", nil)
	expectMessage(t, ch, "hello", 2*time.Second)
	t.Logf("delivered across instances in %s", time.Since(start).Round(time.Millisecond))
}

// TestMetadataRoundTrip: publish metadata comes back on the message.
func TestMetadataRoundTrip(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "md.db"), nil)
	got := make(chan *pubsub.Message, 1)
	err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "t"}, func(_ context.Context, m *pubsub.Message) error {
		got <- m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, "t", "x", map[string]string{"cloudevent.type": "order", "ttlInSeconds": "60"})
	select {
	case m := <-got:
		if m.Metadata["cloudevent.type"] != "order" || m.Metadata["ttlInSeconds"] != "60" || m.ContentType != "text/plain" {
			t.Errorf("message = %+v, want the publish metadata and content type", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not delivered")
	}
}

func TestInvalidTTL(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "ttl.db"), nil)
	for _, ttl := range []string{"abc", "0", "-5"} {
		err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: "t", Data: []byte("x"), Metadata: map[string]string{"ttlInSeconds": ttl}})
		if err == nil {
			t.Errorf("Publish with ttlInSeconds=%q = nil, want an error", ttl)
		}
	}
	// In a bulk publish only the bad entry fails.
	ch := collect(t, b, "bulk")
	failures, err := b.BulkPublish(t.Context(), &pubsub.BulkPublishRequest{Topic: "bulk", Entries: []pubsub.BulkPublishEntry{
		{EntryID: "good", Data: []byte("good")},
		{EntryID: "bad", Data: []byte("bad"), Metadata: map[string]string{"ttlInSeconds": "x"}},
	}})
	if err != nil || len(failures) != 1 || failures[0].EntryID != "bad" || failures[0].Error == nil {
		t.Fatalf("BulkPublish = %+v, %v; want one failure for entry \"bad\"", failures, err)
	}
	expectMessage(t, ch, "good", 5*time.Second)
}

// TestVisibilityTimeout: a message whose handler hangs is delivered again
// to another member of the group once the lease runs out.
func TestVisibilityTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vis.db")
	props := map[string]string{"visibilityTimeout": "1s"}
	// The stuck instance has one worker and it is stuck, so it has no slot
	// to take the message back itself when the lease runs out: the other
	// instance must get it. (An instance with free slots may re-claim a
	// message its own stuck handler still holds; see the package notes.)
	hung := open(t, path, map[string]string{"visibilityTimeout": "1s", "concurrency": "1"})
	started := make(chan struct{}, 1)
	err := hung.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "t"}, func(ctx context.Context, _ *pubsub.Message) error {
		// Once the lease runs out this broker may be handed the message
		// again; the second call must not block on the full channel.
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, hung, "t", "slow", nil)
	<-started
	ch := collect(t, open(t, path, props), "t")
	start := time.Now()
	expectMessage(t, ch, "slow", 5*time.Second)
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("redelivered after %s, before the 1s lease ran out", d)
	}
}

// TestNewGroupStart: the first group of a topic receives what was
// published before anyone subscribed; a later group starts with new
// messages only.
func TestNewGroupStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "start.db")
	b := open(t, path, nil)
	publish(t, b, "t", "early", nil)
	first := collect(t, b, "t")
	expectMessage(t, first, "early", 5*time.Second)
	late := collect(t, open(t, path, map[string]string{"consumerID": "other"}), "t")
	publish(t, b, "t", "later", nil)
	expectMessage(t, late, "later", 5*time.Second)
	expectMessage(t, first, "later", 5*time.Second)
}

// count returns the rows of a table.
func count(t *testing.T, b *Broker, table string) int {
	t.Helper()
	var n int
	if err := b.rdb.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCleanup(t *testing.T) {
	b := open(t, filepath.Join(t.TempDir(), "clean.db"), map[string]string{"cleanupInterval": "0"})
	ch := collect(t, b, "consumed")
	for i := range 5 {
		publish(t, b, "consumed", fmt.Sprint(i), nil)
	}
	// Deliveries run concurrently, so they may arrive in any order.
	got := expectMessages(t, ch, 5, 5*time.Second)
	for i := range 5 {
		if !got[fmt.Sprint(i)] {
			t.Fatalf("message %d not delivered: got %v", i, got)
		}
	}
	publish(t, b, "nobody", "kept", nil)
	publish(t, b, "nobody", "expires", map[string]string{"ttlInSeconds": "1"})
	// Acknowledgements are written asynchronously; wait for them.
	deadline := time.Now().Add(5 * time.Second)
	for count(t, b, b.tbl.deliveries) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	if _, err := b.cleanup(t.Context(), time.Now().Add(2*time.Second)); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if n := count(t, b, b.tbl.messages); n != 1 {
		t.Errorf("after cleanup %d messages remain, want 1 (the unexpired one nobody consumes)", n)
	}
	// A day later the unsubscribed message and the idle group are gone —
	// but the group is subscribed, so the heartbeat brings it back.
	if _, err := b.cleanup(t.Context(), time.Now().Add(25*time.Hour)); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if n := count(t, b, b.tbl.messages); n != 0 {
		t.Errorf("after the retention period %d messages remain, want 0", n)
	}
	if err := b.beat(t.Context()); err != nil {
		t.Fatal(err)
	}
	publish(t, b, "consumed", "after", nil)
	expectMessage(t, ch, "after", 5*time.Second)
}

// TestCloseReleasesLeases: messages claimed but not handled when a broker
// closes go to the next instance of the group at once.
func TestCloseReleasesLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rel.db")
	first := open(t, path, map[string]string{"concurrency": "1"})
	var once sync.Once
	started := make(chan struct{})
	err := first.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "t"}, func(ctx context.Context, _ *pubsub.Message) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publish(t, first, "t", fmt.Sprint(i), nil)
	}
	<-started
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	ch := collect(t, open(t, path, nil), "t")
	expectMessages(t, ch, 3, 2*time.Second) // redelivered soon after Close
}

// TestInMemoryDatabase: ":memory:" works, within one instance.
func TestInMemoryDatabase(t *testing.T) {
	b := open(t, ":memory:", nil)
	ch := collect(t, b, "t")
	publish(t, b, "t", "in memory", nil)
	expectMessage(t, ch, "in memory", 5*time.Second)
}

// TestSlowHandlerNotRedeliveredToItself checks that a handler outliving the
// visibility timeout does not get its message a second time, concurrently,
// from its own instance: the lease is renewed instead.
func TestSlowHandlerNotRedeliveredToItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pubsub.db")
	b := New()
	md := pubsub.Metadata{Name: "ps", Properties: map[string]string{"connectionString": path, "visibilityTimeout": "1s"}}
	if err := b.Init(t.Context(), md); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	active, most, calls := 0, 0, 0
	done := make(chan struct{})
	handler := func(ctx context.Context, m *pubsub.Message) error {
		mu.Lock()
		active++
		calls++
		most = max(most, active)
		first := calls == 1
		mu.Unlock()
		if first {
			// Long enough for the lease to expire and the fallback poll
			// to look for reclaimable deliveries at least twice.
			time.Sleep(3500 * time.Millisecond)
		}
		mu.Lock()
		active--
		mu.Unlock()
		select {
		case done <- struct{}{}:
		default:
		}
		return nil
	}
	if err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: "slow"}, handler); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: "slow", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the message was never handled")
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Fatalf("the message was handled %d times at once by one instance, want 1", most)
	}
}
