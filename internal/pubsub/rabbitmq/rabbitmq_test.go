package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/pubsubtest"
	"github.com/outrigger/outrigger/internal/testutil"
)

const (
	rabbitAddr = "127.0.0.1:5672"
	rabbitURL  = "amqp://guest:guest@" + rabbitAddr
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		check   func(t *testing.T, c config)
		wantErr string
	}{
		{
			name:  "defaults",
			props: map[string]string{"connectionString": rabbitURL},
			check: func(t *testing.T, c config) {
				if !c.deleteWhenUnused || c.durable || c.autoAck || c.exchangeKind != "fanout" || c.reconnectWait != 3*time.Second || c.single || c.heartbeat != 10*time.Second {
					t.Errorf("unexpected defaults: %+v", c)
				}
			},
		},
		{
			name: "hostname and credentials",
			props: map[string]string{
				"hostname": "rabbit:5673", "username": "u", "password": "p@ss", "protocol": "amqp",
				"Durable": "true", "deletedWhenUnused": "false", "deliveryMode": "2", "prefetchCount": "5",
				"exchangeKind": "topic", "reconnectWaitSeconds": "1", "concurrency": "single",
				"ttlInSeconds": "60", "maxLen": "10", "maxLenBytes": "1000",
			},
			check: func(t *testing.T, c config) {
				if c.url != "amqp://u:p%40ss@rabbit:5673" {
					t.Errorf("url = %q", c.url)
				}
				if !c.durable || c.deleteWhenUnused || c.deliveryMode != 2 || c.prefetchCount != 5 || c.exchangeKind != "topic" ||
					c.reconnectWait != time.Second || !c.single || c.defaultTTL != time.Minute || c.maxLen != 10 || c.maxLenBytes != 1000 {
					t.Errorf("unexpected config: %+v", c)
				}
			},
		},
		{name: "missing host", props: map[string]string{}, wantErr: "missing 'connectionString'"},
		{name: "bad scheme", props: map[string]string{"connectionString": "http://x"}, wantErr: "invalid 'connectionString'"},
		{name: "protocol mismatch", props: map[string]string{"connectionString": rabbitURL, "protocol": "amqps"}, wantErr: "does not match"},
		{name: "bad bool", props: map[string]string{"connectionString": rabbitURL, "durable": "yes please"}, wantErr: "'durable'"},
		{name: "bad delivery mode", props: map[string]string{"connectionString": rabbitURL, "deliveryMode": "3"}, wantErr: "deliveryMode"},
		{name: "bad exchange kind", props: map[string]string{"connectionString": rabbitURL, "exchangeKind": "weird"}, wantErr: "exchangeKind"},
		{name: "bad concurrency", props: map[string]string{"connectionString": rabbitURL, "concurrency": "many"}, wantErr: "concurrency"},
		{name: "bad duration", props: map[string]string{"connectionString": rabbitURL, "reconnectWaitSeconds": "soon"}, wantErr: "reconnectWaitSeconds"},
		{name: "amqps half client cert", props: map[string]string{"connectionString": "amqps://h", "clientCert": "x"}, wantErr: "clientCert"},
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

func TestPublishing(t *testing.T) {
	b := New()
	b.cfg = config{deliveryMode: 2, defaultTTL: 30 * time.Second}
	tests := []struct {
		name string
		req  pubsub.PublishRequest
		want amqp.Publishing
	}{
		{
			name: "defaults",
			req:  pubsub.PublishRequest{Topic: "t", Data: []byte("x")},
			want: amqp.Publishing{ContentType: "text/plain", Body: []byte("x"), DeliveryMode: 2, Expiration: "30000"},
		},
		{
			name: "metadata",
			req: pubsub.PublishRequest{Topic: "t", Data: []byte("x"), ContentType: "application/json", Metadata: map[string]string{
				"ttlInSeconds": "5", "priority": "7", "messageId": "m1", "correlationID": "c1", "type": "ty",
			}},
			want: amqp.Publishing{ContentType: "application/json", Body: []byte("x"), DeliveryMode: 2, Expiration: "5000", Priority: 7, MessageId: "m1", CorrelationId: "c1", Type: "ty"},
		},
		{
			name: "invalid values ignored",
			req:  pubsub.PublishRequest{Topic: "t", Metadata: map[string]string{"ttlInSeconds": "x", "priority": "300", "contentType": "text/csv"}},
			want: amqp.Publishing{ContentType: "text/csv", DeliveryMode: 2, Expiration: "30000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := b.publishing(&tt.req)
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// uniqueName returns a name no other test run uses.
func uniqueName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "outrigger-test-" + prefix + "-" + hex.EncodeToString(b)
}

// env is one test's RabbitMQ names, with cleanup of everything they name.
type env struct {
	topic, consumer string
}

func newEnv(t *testing.T) env {
	t.Helper()
	testutil.RequireService(t, "RabbitMQ", rabbitAddr)
	e := env{topic: uniqueName("topic"), consumer: uniqueName("app")}
	t.Cleanup(func() { deleteAll(t, e) })
	return e
}

func (e env) queue() string { return e.consumer + "-" + e.topic }

// deleteAll removes the exchanges and queues a test may have declared.
func deleteAll(t *testing.T, e env) {
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	for _, q := range []string{e.queue(), "dlq-" + e.queue()} {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(q, false, false, false)
			ch.Close()
		}
	}
	for _, x := range []string{e.topic, "dlx-" + e.queue()} {
		if ch, err := conn.Channel(); err == nil {
			ch.ExchangeDelete(x, false, false)
			ch.Close()
		}
	}
}

// newBroker initialises a broker with the given metadata on top of the
// test's connection string and consumer ID.
func newBroker(t *testing.T, e env, props map[string]string) *Broker {
	t.Helper()
	md := map[string]string{"connectionString": rabbitURL, "consumerID": e.consumer, "reconnectWaitSeconds": "0.2s"}
	for k, v := range props {
		md[k] = v
	}
	b := New()
	if err := b.Init(context.Background(), pubsub.Metadata{Name: "test", Properties: md}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// collector records delivered messages and can fail chosen ones.
type collector struct {
	ch   chan *pubsub.Message
	fail func(*pubsub.Message) error
}

func newCollector() *collector { return &collector{ch: make(chan *pubsub.Message, 1000)} }

func (c *collector) handle(ctx context.Context, m *pubsub.Message) error {
	if c.fail != nil {
		if err := c.fail(m); err != nil {
			return err
		}
	}
	c.ch <- m
	return nil
}

// wait returns the next n messages or fails after a timeout.
func (c *collector) wait(t *testing.T, n int) []*pubsub.Message {
	t.Helper()
	var out []*pubsub.Message
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-c.ch:
			out = append(out, m)
		case <-timeout:
			t.Fatalf("got %d of %d messages", len(out), n)
		}
	}
	return out
}

// none checks that nothing more arrives for a short while.
func (c *collector) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.ch:
		t.Fatalf("unexpected message %q", m.Data)
	case <-time.After(d):
	}
}

func subscribe(t *testing.T, b *Broker, topic string, md map[string]string, h pubsub.Handler) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Subscribe(ctx, pubsub.SubscribeRequest{Topic: topic, Metadata: md}, h); err != nil {
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

func TestPublishSubscribe(t *testing.T) {
	e := newEnv(t)
	b := newBroker(t, e, map[string]string{"publishMessagePropertiesToMetadata": "true", "publisherConfirm": "true"})
	c := newCollector()
	subscribe(t, b, e.topic, nil, c.handle)

	publish(t, b, e.topic, "hello", map[string]string{"messageID": "id-1", "correlationID": "corr-1"})
	m := c.wait(t, 1)[0]
	if string(m.Data) != "hello" || m.Topic != e.topic || m.ContentType != "text/plain" {
		t.Errorf("got %+v", m)
	}
	if m.Metadata["messageid"] != "id-1" || m.Metadata["correlationid"] != "corr-1" {
		t.Errorf("metadata = %v", m.Metadata)
	}
}

func TestDeadLetter(t *testing.T) {
	e := newEnv(t)
	b := newBroker(t, e, map[string]string{"enableDeadLetter": "true", "durable": "true", "deletedWhenUnused": "false"})
	failed := make(chan struct{}, 1)
	subscribe(t, b, e.topic, nil, func(context.Context, *pubsub.Message) error {
		failed <- struct{}{}
		return errors.New("reject")
	})
	publish(t, b, e.topic, "poison", nil)
	<-failed

	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, ok, err := ch.Get("dlq-"+e.queue(), true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if string(d.Body) != "poison" {
				t.Fatalf("dead letter = %q", d.Body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("message did not reach the dead letter queue")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// By default (requeueInFailure=false) a failed message is dropped, as in
// Dapr, where the sidecar retries before it reports failure.
func TestFailureWithoutRequeueDrops(t *testing.T) {
	e := newEnv(t)
	b := newBroker(t, e, nil)
	var calls atomic.Int32
	c := newCollector()
	c.fail = func(m *pubsub.Message) error {
		if string(m.Data) == "fails" {
			calls.Add(1)
			return errors.New("boom")
		}
		return nil
	}
	subscribe(t, b, e.topic, nil, c.handle)
	publish(t, b, e.topic, "fails", nil)
	publish(t, b, e.topic, "next", nil)
	if m := c.wait(t, 1)[0]; string(m.Data) != "next" {
		t.Fatalf("got %q", m.Data)
	}
	c.none(t, 300*time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("failed message handled %d times, want 1", n)
	}
}

// With exchangeKind=topic, subscriptions bind with their routingKey
// patterns and publishes carry a routingKey.
func TestTopicExchangeRouting(t *testing.T) {
	e := newEnv(t)
	b := newBroker(t, e, map[string]string{"exchangeKind": "topic"})
	c := newCollector()
	subscribe(t, b, e.topic, map[string]string{"routingKey": "orders.*, audit.#"}, c.handle)
	publish(t, b, e.topic, "user", map[string]string{"routingKey": "users.new"})
	publish(t, b, e.topic, "order", map[string]string{"routingKey": "orders.new"})
	publish(t, b, e.topic, "audit", map[string]string{"routingKey": "audit.x.y"})
	got := c.wait(t, 2)
	if a, b := string(got[0].Data), string(got[1].Data); !(a == "order" && b == "audit" || a == "audit" && b == "order") {
		t.Fatalf("got %q, %q; want order and audit", a, b)
	}
	c.none(t, 300*time.Millisecond)
}

// A refusal that retrying cannot fix (here: the topic's exchange exists
// with another kind) fails Publish at once instead of after the retries.
func TestPublishFailsFastOnPermanentError(t *testing.T) {
	e := newEnv(t)
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(e.topic, "direct", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	b := newBroker(t, e, map[string]string{"reconnectWaitSeconds": "5"})
	start := time.Now()
	err = b.Publish(context.Background(), &pubsub.PublishRequest{Topic: e.topic, Data: []byte("x")})
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.PreconditionFailed {
		t.Fatalf("Publish = %v, want PRECONDITION_FAILED", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Publish took %s: it retried a permanent error", d)
	}
}

func TestCloseStopsSubscriptions(t *testing.T) {
	e := newEnv(t)
	b := newBroker(t, e, nil)
	c := newCollector()
	subscribe(t, b, e.topic, nil, c.handle)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), &pubsub.PublishRequest{Topic: e.topic}); !errors.Is(err, errClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
	if err := b.Subscribe(context.Background(), pubsub.SubscribeRequest{Topic: e.topic}, c.handle); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
}

// TestConformance runs the shared suite twice: parallel handlers (the
// default) and concurrency=single, which delivers in publish order. The
// queues are durable and kept when unused, so a group's backlog survives
// between subscribers; the recorder deletes them afterwards.
func TestConformance(t *testing.T) {
	testutil.RequireService(t, "RabbitMQ", rabbitAddr)
	for _, mode := range []string{"parallel", "single"} {
		t.Run(mode, func(t *testing.T) {
			p := testutil.StartProxy(t, rabbitAddr)
			rec := &recorder{queues: map[string]bool{}, exchanges: map[string]bool{}}
			t.Cleanup(func() { rec.cleanup(t) })
			pubsubtest.Run(t, pubsubtest.Config{
				New: func() pubsub.Broker { return recordingBroker{New(), rec} },
				Metadata: pubsub.Metadata{Name: "rabbitmq", Properties: map[string]string{
					"connectionString": "amqp://guest:guest@" + p.Addr(),
					"durable":          "true", "deletedWhenUnused": "false", "deliveryMode": "2",
					"requeueInFailure": "true", "publisherConfirm": "true",
					"reconnectWaitSeconds": "0.2s", "concurrency": mode,
				}},
				Ordered:        mode == "single",
				Durable:        true,
				ConsumerGroups: true,
				Restart:        func(*testing.T) { p.Sever() },
			})
		})
	}
}

// recorder notes the exchanges and queues the suite creates.
type recorder struct {
	mu        sync.Mutex
	queues    map[string]bool
	exchanges map[string]bool
}

func (r *recorder) cleanup(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer ch.Close()
	for q := range r.queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("cleanup: delete queue %s: %v", q, err)
		}
	}
	for x := range r.exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Logf("cleanup: delete exchange %s: %v", x, err)
		}
	}
}

type recordingBroker struct {
	*Broker
	rec *recorder
}

func (r recordingBroker) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	r.rec.mu.Lock()
	r.rec.exchanges[req.Topic] = true
	r.rec.mu.Unlock()
	return r.Broker.Publish(ctx, req)
}

func (r recordingBroker) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, h pubsub.Handler) error {
	r.rec.mu.Lock()
	r.rec.exchanges[req.Topic] = true
	r.rec.queues[r.Broker.cfg.consumerID+"-"+req.Topic] = true
	r.rec.mu.Unlock()
	return r.Broker.Subscribe(ctx, req, h)
}
