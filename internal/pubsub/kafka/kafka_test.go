package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
)

// testProps are the metadata every test broker uses: short group timers
// keep rebalances in the fake cluster quick.
func testProps(fc *fakeCluster, group string) map[string]string {
	return map[string]string{
		"brokers": fc.brokers(), "authType": "none", "consumerID": group,
		"heartbeatInterval": "300ms", "sessionTimeout": "6s", "consumeRetryInterval": "50",
	}
}

// The conformance suite runs against kfake, franz-go's in-process fake
// Kafka cluster; Restart cuts every connection to it.
func TestConformance(t *testing.T) {
	fc := newFakeCluster(t)
	pubsubtest.Run(t, pubsubtest.Config{
		New:            func() pubsub.Broker { return New() },
		Metadata:       pubsub.Metadata{Name: "kafka", Properties: testProps(fc, "")},
		Ordered:        true,
		Durable:        true,
		ConsumerGroups: true,
		Restart:        func(*testing.T) { fc.sever() },
	})
}

func TestParseConfig(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"brokers": "a:9092, b:9092", "authType": "none"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		props   map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{
			name:  "defaults",
			props: base("consumerID", "app1"),
			check: func(t *testing.T, c config) {
				if len(c.brokers) != 2 || c.brokers[1] != "b:9092" || c.group != "app1" || c.clientID != "sarama" || c.oldest ||
					c.tls != nil || c.sasl != nil || c.retryInterval != 100*time.Millisecond || c.queueSize != 256 || len(c.balancers) != 2 {
					t.Errorf("unexpected config: %+v", c)
				}
			},
		},
		{
			name:  "explicit group and options",
			props: base("consumerID", "app1", "consumerGroup", "g", "initialOffset", "Oldest", "clientId", "me", "consumeRetryInterval", "2s", "consumerGroupRebalanceStrategy", "range"),
			check: func(t *testing.T, c config) {
				if c.group != "g" || !c.oldest || c.clientID != "me" || c.retryInterval != 2*time.Second || len(c.balancers) != 1 {
					t.Errorf("unexpected config: %+v", c)
				}
			},
		},
		{
			name:  "password auth uses TLS unless disabled",
			props: base("authType", "password", "saslUsername", "u", "saslPassword", "p", "saslMechanism", "SHA-512"),
			check: func(t *testing.T, c config) {
				if c.sasl == nil || c.sasl.Name() != "SCRAM-SHA-512" || c.tls == nil {
					t.Errorf("sasl = %v, tls = %v", c.sasl, c.tls)
				}
			},
		},
		{
			name:  "password auth without TLS",
			props: base("authType", "password", "saslUsername", "u", "saslPassword", "p", "disableTls", "true"),
			check: func(t *testing.T, c config) {
				if c.sasl == nil || c.sasl.Name() != "PLAIN" || c.tls != nil {
					t.Errorf("sasl = %v, tls = %v", c.sasl, c.tls)
				}
			},
		},
		{name: "no brokers", props: map[string]string{"authType": "none"}, wantErr: "brokers"},
		{name: "no authType", props: map[string]string{"brokers": "a:1"}, wantErr: "authType"},
		{name: "oidc", props: base("authType", "oidc"), wantErr: "not supported yet"},
		{name: "awsiam", props: base("authType", "awsiam"), wantErr: "not supported yet"},
		{name: "unknown auth", props: base("authType", "magic"), wantErr: "authType"},
		{name: "password without user", props: base("authType", "password", "saslPassword", "p"), wantErr: "saslUsername"},
		{name: "bad mechanism", props: base("authType", "password", "saslUsername", "u", "saslPassword", "p", "saslMechanism", "MD5"), wantErr: "saslMechanism"},
		{name: "certificate without CA", props: base("authType", "certificate"), wantErr: "caCert"},
		{name: "bad offset", props: base("initialOffset", "middle"), wantErr: "initialOffset"},
		{name: "bad strategy", props: base("consumerGroupRebalanceStrategy", "random"), wantErr: "consumerGroupRebalanceStrategy"},
		{name: "bad regex", props: base("excludeHeaderMetaRegex", "("), wantErr: "excludeHeaderMetaRegex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.props)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestRecord(t *testing.T) {
	rec, err := record(context.Background(), "t", []byte("v"), "application/json",
		map[string]string{"partitionKey": "k1", "partitionNumber": "2", "h": "x"})
	if err != nil {
		t.Fatal(err)
	}
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{"partitionKey": "k1", "h": "x", headerContentType: "application/json"}
	if fmt.Sprint(headers) != fmt.Sprint(want) || string(rec.Key) != "k1" {
		t.Errorf("headers = %v, key = %q", headers, rec.Key)
	}
	if p, ok := explicitPartition(rec); !ok || p != 2 {
		t.Errorf("explicit partition = %d, %v", p, ok)
	}
	if _, err := record(context.Background(), "t", nil, "", map[string]string{"partitionNumber": "-1"}); err == nil {
		t.Error("negative partitionNumber accepted")
	}
}

func TestPartitionerMatchesSarama(t *testing.T) {
	tp := newPartitioner().ForTopic("t")
	for _, key := range []string{"a", "order-17", "ünï", "a much longer partition key than usual"} {
		h := fnv.New32a()
		h.Write([]byte(key))
		want := int32(h.Sum32()) % 7
		if want < 0 {
			want = -want
		}
		r := &kgo.Record{Key: []byte(key)}
		if got := tp.Partition(r, 7); got != int(want) || !tp.RequiresConsistency(r) {
			t.Errorf("key %q: partition %d, want %d (Sarama's hash)", key, got, want)
		}
	}
	explicit := &kgo.Record{Key: []byte("a"), Context: context.WithValue(context.Background(), partitionNumberKey{}, 5)}
	if got := tp.Partition(explicit, 7); got != 5 {
		t.Errorf("explicit partition: got %d", got)
	}
	if got := tp.Partition(explicit, 3); got != -1 {
		t.Errorf("out of range explicit partition: got %d, want -1 (rejected)", got)
	}
}

func newBroker(t *testing.T, props map[string]string) *Broker {
	t.Helper()
	b := New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Init(ctx, pubsub.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func subscribe(t *testing.T, b *Broker, topic string, h pubsub.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic}, h); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return cancel
}

func publish(t *testing.T, b *Broker, topic, data string, md map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, &pubsub.PublishRequest{Topic: topic, Data: []byte(data), ContentType: "text/plain", Metadata: md}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// recv returns the next message from ch or fails after a timeout.
func recv(t *testing.T, ch <-chan *pubsub.Message) *pubsub.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no message within 15s")
		return nil
	}
}

func TestDeliveryMetadata(t *testing.T) {
	fc := newFakeCluster(t)
	props := testProps(fc, "meta")
	props["excludeHeaderMetaRegex"] = "^secret"
	b := newBroker(t, props)
	got := make(chan *pubsub.Message, 10)
	subscribe(t, b, "meta", func(_ context.Context, m *pubsub.Message) error { got <- m; return nil })
	publish(t, b, "meta", "hello", map[string]string{"partitionKey": "k", "trace": "abc", "secretThing": "x", "partitionNumber": "3"})

	m := recv(t, got)
	if string(m.Data) != "hello" || m.ContentType != "text/plain" || m.Topic != "meta" {
		t.Fatalf("message = %+v", m)
	}
	md := m.Metadata
	if md["__key"] != "k" || md["trace"] != "abc" || md["partitionKey"] != "k" || md["__topic"] != "meta" ||
		md["__partition"] != "3" || md["__offset"] != "0" || md["__timestamp"] == "" {
		t.Errorf("metadata = %v", md)
	}
	for _, k := range []string{"secretThing", "partitionNumber", headerContentType} {
		if _, ok := md[k]; ok {
			t.Errorf("metadata has %q: %v", k, md)
		}
	}
}

// A failing message is retried in place: later messages of its partition
// wait, so order holds and nothing is skipped.
func TestRetryInPlaceKeepsOrder(t *testing.T) {
	fc := newFakeCluster(t)
	b := newBroker(t, testProps(fc, "retry"))
	var failures atomic.Int32
	var mu sync.Mutex
	var order []string
	done := make(chan struct{})
	subscribe(t, b, "retry", func(_ context.Context, m *pubsub.Message) error {
		if string(m.Data) == "0" && failures.Add(1) <= 3 {
			return errors.New("not yet")
		}
		mu.Lock()
		defer mu.Unlock()
		order = append(order, string(m.Data))
		if len(order) == 10 {
			close(done)
		}
		return nil
	})
	for i := range 10 {
		publish(t, b, "retry", fmt.Sprint(i), map[string]string{"partitionKey": "same"})
	}
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("messages not delivered")
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[0 1 2 3 4 5 6 7 8 9]" || failures.Load() != 4 {
		t.Errorf("order = %v after %d attempts at message 0", order, failures.Load())
	}
}

// A tiny buffer makes the partition pause and resume fetching many times.
func TestBackpressurePausesPartition(t *testing.T) {
	fc := newFakeCluster(t)
	props := testProps(fc, "pause")
	props["channelBufferSize"] = "2"
	b := newBroker(t, props)
	got := make(chan *pubsub.Message, 200)
	subscribe(t, b, "pause", func(_ context.Context, m *pubsub.Message) error {
		time.Sleep(time.Millisecond)
		got <- m
		return nil
	})
	const n = 100
	req := &pubsub.BulkPublishRequest{Topic: "pause", Metadata: map[string]string{"partitionKey": "one"}}
	for i := range n {
		req.Entries = append(req.Entries, pubsub.BulkPublishEntry{EntryID: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))})
	}
	if failures, err := b.BulkPublish(context.Background(), req); err != nil || len(failures) > 0 {
		t.Fatalf("BulkPublish = %v, %v", failures, err)
	}
	for i := range n {
		if m := recv(t, got); string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Data)
		}
	}
}

// Handled messages are committed when a rebalance moves partitions, so the
// new owner continues where the old one stopped: nothing is lost and the
// second member takes over part of the work.
func TestRebalanceHandsOverWithoutLoss(t *testing.T) {
	fc := newFakeCluster(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var byMember [2]int
	handler := func(member int) pubsub.Handler {
		return func(_ context.Context, m *pubsub.Message) error {
			mu.Lock()
			seen[string(m.Data)]++
			byMember[member]++
			mu.Unlock()
			return nil
		}
	}
	b1 := newBroker(t, testProps(fc, "rebalance"))
	subscribe(t, b1, "rebalance", handler(0))
	const n = 200
	for i := range n / 2 {
		publish(t, b1, "rebalance", fmt.Sprint(i), nil)
	}
	subscribe(t, newBroker(t, testProps(fc, "rebalance")), "rebalance", handler(1))
	for i := n / 2; i < n; i++ {
		publish(t, b1, "rebalance", fmt.Sprint(i), nil)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		distinct, members := len(seen), byMember
		mu.Unlock()
		if distinct == n {
			t.Logf("member deliveries: %v for %d messages", members, n)
			if members[1] == 0 {
				t.Fatal("the second member got no partition")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered", distinct, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestInitialOffset(t *testing.T) {
	fc := newFakeCluster(t)
	pub := newBroker(t, testProps(fc, "publisher"))
	publish(t, pub, "offsets", "old", map[string]string{"partitionKey": "k"})
	for _, tt := range []struct{ offset, want string }{{"newest", "new"}, {"oldest", "old,new"}} {
		props := testProps(fc, "group-"+tt.offset)
		props["initialOffset"] = tt.offset
		got := make(chan *pubsub.Message, 10)
		subscribe(t, newBroker(t, props), "offsets", func(_ context.Context, m *pubsub.Message) error { got <- m; return nil })
		defer func() {
			var datas []string
			for range strings.Split(tt.want, ",") {
				datas = append(datas, string(recv(t, got).Data))
			}
			if strings.Join(datas, ",") != tt.want {
				t.Errorf("initialOffset=%s: got %v, want %s", tt.offset, datas, tt.want)
			}
		}()
	}
	publish(t, pub, "offsets", "new", map[string]string{"partitionKey": "k"})
}

// A member that offers only range (as Dapr's Sarama client does) can join
// a group of members that prefer cooperative-sticky.
func TestMixedRebalanceStrategies(t *testing.T) {
	fc := newFakeCluster(t)
	var mu sync.Mutex
	seen := map[string]bool{}
	handler := func(_ context.Context, m *pubsub.Message) error {
		mu.Lock()
		seen[string(m.Data)] = true
		mu.Unlock()
		return nil
	}
	b1 := newBroker(t, testProps(fc, "mixed"))
	subscribe(t, b1, "mixed", handler)
	props := testProps(fc, "mixed")
	props["consumerGroupRebalanceStrategy"] = "range"
	subscribe(t, newBroker(t, props), "mixed", handler)
	const n = 50
	for i := range n {
		publish(t, b1, "mixed", fmt.Sprint(i), nil)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		count := len(seen)
		mu.Unlock()
		if count == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered", count, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSASL(t *testing.T) {
	tests := []struct {
		name, method, mechanism string
	}{
		{"plain", "PLAIN", "PLAINTEXT"},
		{"scram-sha-256", "SCRAM-SHA-256", "SHA-256"},
		{"scram-sha-512", "SCRAM-SHA-512", "SHA-512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCluster(t, kfake.EnableSASL(), kfake.Superuser(tt.method, "dapr", "s3cret"))
			props := testProps(fc, "sasl")
			props["authType"], props["saslUsername"], props["saslMechanism"], props["disableTls"] = "password", "dapr", tt.mechanism, "true"

			props["saslPassword"] = "wrong"
			if err := New().Init(context.Background(), pubsub.Metadata{Properties: props}); err == nil {
				t.Fatal("Init with a wrong password succeeded")
			}

			props["saslPassword"] = "s3cret"
			b := newBroker(t, props)
			got := make(chan *pubsub.Message, 1)
			subscribe(t, b, "sasl", func(_ context.Context, m *pubsub.Message) error { got <- m; return nil })
			publish(t, b, "sasl", "authenticated", nil)
			if m := recv(t, got); string(m.Data) != "authenticated" {
				t.Fatalf("got %q", m.Data)
			}
		})
	}
}

func TestUnknownTopicIsNotFound(t *testing.T) {
	fc := startCluster(t)
	b := New()
	props := testProps(fc, "nf")
	if err := b.Init(context.Background(), pubsub.Metadata{Properties: props}); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := b.Publish(ctx, &pubsub.PublishRequest{Topic: "missing", Data: []byte("x")})
	if !errors.Is(err, pubsub.ErrNotFound) {
		t.Fatalf("Publish to a missing topic: %v, want pubsub.ErrNotFound", err)
	}
}

func TestClosedBroker(t *testing.T) {
	fc := newFakeCluster(t)
	b := newBroker(t, testProps(fc, "closed"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: "x"}); !errors.Is(err, errClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := b.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: "x"}, nil); !errors.Is(err, errClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}
