package memory

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
)

func TestConformance(t *testing.T) {
	pubsubtest.Run(t, pubsubtest.Config{
		New:      func() pubsub.Broker { return New() },
		Metadata: pubsub.Metadata{Name: "pubsub", Properties: map[string]string{}},
		Ordered:  true,
	})
}

func TestRegistered(t *testing.T) {
	b, err := pubsub.Registry.Create("pubsub.in-memory", "v1")
	if err != nil {
		t.Fatalf("Registry.Create: %v", err)
	}
	if _, ok := b.(*Broker); !ok {
		t.Fatalf("Registry.Create returned %T, want *memory.Broker", b)
	}
}

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		pattern, topic string
		want           bool
	}{
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/+/c", "a/b/c/d", false},
		{"a/+", "a", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "a/b", true},
		{"#", "a/b/c", true},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/#", "b/a", false},
		{"a/+/#", "a/b", true},
		{"a/+/#", "a", false},
		{"orders", "orders", true},
		{"orders", "orders/x", false},
	}
	for _, c := range cases {
		if got := matchTopic(c.pattern, c.topic); got != c.want {
			t.Errorf("matchTopic(%q, %q) = %v, want %v", c.pattern, c.topic, got, c.want)
		}
	}
	for p, want := range map[string]bool{"a/+/c": true, "#": true, "a/#": true, "a+b/c": false, "a#": false, "orders": false} {
		if got := isWildcard(p); got != want {
			t.Errorf("isWildcard(%q) = %v, want %v", p, got, want)
		}
	}
}

// newBroker initialises a broker and closes it with the test.
func newBroker(t testing.TB, props map[string]string) *Broker {
	t.Helper()
	b := New()
	if err := b.Init(context.Background(), pubsub.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// counter is a handler counting messages per topic.
type counter struct {
	mu     sync.Mutex
	topics map[string]int
	total  atomic.Int64
}

func (c *counter) handle(_ context.Context, m *pubsub.Message) error {
	c.mu.Lock()
	if c.topics == nil {
		c.topics = map[string]int{}
	}
	c.topics[m.Topic]++
	c.mu.Unlock()
	c.total.Add(1)
	return nil
}

// waitTotal waits until c has n messages.
func (c *counter) waitTotal(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.total.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages, want %d", c.total.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustSubscribe(t *testing.T, b *Broker, topic string, md map[string]string, h pubsub.Handler) {
	t.Helper()
	if err := b.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: topic, Metadata: md}, h); err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
}

func mustPublish(t testing.TB, b *Broker, topic string, data string) {
	t.Helper()
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: topic, Data: []byte(data)}); err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
}

func TestWildcardSubscription(t *testing.T) {
	b := newBroker(t, map[string]string{"consumerID": "app"})
	var wild, exact counter
	mustSubscribe(t, b, "sensors/+/temp", nil, wild.handle)
	mustSubscribe(t, b, "sensors/room1/temp", nil, exact.handle)
	for _, topic := range []string{"sensors/room1/temp", "sensors/room2/temp", "sensors/room1/humidity", "other"} {
		mustPublish(t, b, topic, "x")
	}
	wild.waitTotal(t, 2)
	exact.waitTotal(t, 1)
	time.Sleep(50 * time.Millisecond)
	if wild.total.Load() != 2 || wild.topics["sensors/room1/temp"] != 1 || wild.topics["sensors/room2/temp"] != 1 {
		t.Errorf("wildcard subscription got %v, want one message each on sensors/room1/temp and sensors/room2/temp", wild.topics)
	}
	if exact.total.Load() != 1 {
		t.Errorf("exact subscription got %v, want one message", exact.topics)
	}
}

// TestConsumerGroups: subscriptions in one group share the messages,
// another group gets them all.
func TestConsumerGroups(t *testing.T) {
	b := newBroker(t, map[string]string{"consumerID": "app"})
	var a1, a2, other counter
	// Slow handlers so both members of group "app" get work.
	slow := func(c *counter) pubsub.Handler {
		return func(ctx context.Context, m *pubsub.Message) error {
			time.Sleep(time.Millisecond)
			return c.handle(ctx, m)
		}
	}
	mustSubscribe(t, b, "orders", nil, slow(&a1))
	mustSubscribe(t, b, "orders", nil, slow(&a2))
	mustSubscribe(t, b, "orders", map[string]string{"consumerID": "audit"}, other.handle)
	const n = 200
	for i := range n {
		mustPublish(t, b, "orders", fmt.Sprint(i))
	}
	other.waitTotal(t, n)
	deadline := time.Now().Add(5 * time.Second)
	for a1.total.Load()+a2.total.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	g1, g2 := a1.total.Load(), a2.total.Load()
	if g1+g2 != n || g1 == 0 || g2 == 0 {
		t.Errorf("group app: members got %d and %d messages, want both some and %d together", g1, g2, n)
	}
}

func TestRedeliveryBackoff(t *testing.T) {
	for _, c := range []struct {
		attempts int
		want     time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {7, 5 * time.Second}, {50, 5 * time.Second}} {
		if got := backoff(c.attempts); got != c.want {
			t.Errorf("backoff(%d) = %s, want %s", c.attempts, got, c.want)
		}
	}
}

// TestPartitionKeyOrder: with many workers, messages of one key stay in
// order while different keys run concurrently.
func TestPartitionKeyOrder(t *testing.T) {
	b := newBroker(t, map[string]string{"concurrency": "8"})
	const keys, perKey = 4, 100
	var mu sync.Mutex
	got := map[string][]int{}
	var total atomic.Int64
	mustSubscribe(t, b, "k", nil, func(_ context.Context, m *pubsub.Message) error {
		i, err := strconv.Atoi(string(m.Data))
		if err != nil {
			return err
		}
		mu.Lock()
		got[m.Metadata[pubsub.MetaPartitionKey]] = append(got[m.Metadata[pubsub.MetaPartitionKey]], i)
		mu.Unlock()
		total.Add(1)
		return nil
	})
	for i := range perKey {
		for k := range keys {
			req := &pubsub.PublishRequest{Topic: "k", Data: fmt.Append(nil, i), Metadata: map[string]string{pubsub.MetaPartitionKey: fmt.Sprint("key", k)}}
			if err := b.Publish(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for total.Load() < keys*perKey && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, seq := range got {
		for i, v := range seq {
			if v != i {
				t.Fatalf("key %s: delivery %d is message %d (order %v)", k, i, v, seq[:i+1])
			}
		}
	}
	if total.Load() != keys*perKey {
		t.Fatalf("got %d messages, want %d", total.Load(), keys*perKey)
	}
}

// TestBulkPublishGroupsAndOrder: a bulk publish reaches every group, each
// in entry order (concurrency 1 orders the topic), with entry metadata.
func TestBulkPublishGroupsAndOrder(t *testing.T) {
	b := newBroker(t, map[string]string{"consumerID": "a", "concurrency": "1"})
	var mu sync.Mutex
	got := map[string][]string{}
	var total atomic.Int64
	record := func(group string) pubsub.Handler {
		return func(_ context.Context, m *pubsub.Message) error {
			mu.Lock()
			got[group] = append(got[group], string(m.Data)+"/"+m.Metadata["k"])
			mu.Unlock()
			total.Add(1)
			return nil
		}
	}
	mustSubscribe(t, b, "bulk", nil, record("a"))
	mustSubscribe(t, b, "bulk", map[string]string{"consumerID": "b"}, record("b"))
	req := &pubsub.BulkPublishRequest{Topic: "bulk"}
	var want []string
	for i := range 50 {
		req.Entries = append(req.Entries, pubsub.BulkPublishEntry{EntryID: fmt.Sprint(i), Data: fmt.Append(nil, i), Metadata: map[string]string{"k": fmt.Sprint("v", i)}})
		want = append(want, fmt.Sprintf("%d/v%d", i, i))
	}
	failures, err := b.BulkPublish(context.Background(), req)
	if err != nil || len(failures) > 0 {
		t.Fatalf("BulkPublish = %v, %v", failures, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for total.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range []string{"a", "b"} {
		if fmt.Sprint(got[g]) != fmt.Sprint(want) {
			t.Errorf("group %s got %v, want %v", g, got[g], want)
		}
	}
	if _, err := b.BulkPublish(context.Background(), &pubsub.BulkPublishRequest{}); err == nil {
		t.Error("BulkPublish without a topic succeeded")
	}
}

func TestInitRejectsBadConcurrency(t *testing.T) {
	for _, v := range []string{"0", "-1", "many"} {
		if err := New().Init(context.Background(), pubsub.Metadata{Properties: map[string]string{"concurrency": v}}); err == nil {
			t.Errorf("Init(concurrency=%q) = nil, want an error", v)
		}
	}
}

func TestPublishAfterClose(t *testing.T) {
	b := New()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: "t"}); err == nil {
		t.Error("Publish after Close = nil, want an error")
	}
	if err := b.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "t"}, func(context.Context, *pubsub.Message) error { return nil }); err == nil {
		t.Error("Subscribe after Close = nil, want an error")
	}
}

// BenchmarkPublishDeliver measures publish-to-handler throughput with 4
// concurrent publishers and one subscription.
func BenchmarkPublishDeliver(b *testing.B) {
	br := newBroker(b, nil)
	var got atomic.Int64
	done := make(chan struct{})
	total := int64(b.N)
	if err := br.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "bench"}, func(context.Context, *pubsub.Message) error {
		if got.Add(1) == total {
			close(done)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 256)
	b.ResetTimer()
	var wg sync.WaitGroup
	const publishers = 4
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += publishers {
				if err := br.Publish(context.Background(), &pubsub.PublishRequest{Topic: "bench", Data: data}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
