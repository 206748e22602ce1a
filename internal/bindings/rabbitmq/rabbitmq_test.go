package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
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
			props: map[string]string{"host": rabbitURL, "queueName": "q"},
			check: func(t *testing.T, c config) {
				if c.conn.URL != rabbitURL || c.queue != "q" || c.durable || c.deleteWhenUnused || c.exclusive ||
					c.prefetchCount != 0 || c.maxPriority != nil || c.ttl != 0 || c.contentType != "text/plain" ||
					c.reconnectWait != 5*time.Second || c.conn.TLS != nil || c.conn.SASLExternal {
					t.Errorf("unexpected defaults: %+v", c)
				}
			},
		},
		{
			name: "values",
			props: map[string]string{
				"Host": rabbitURL, "QUEUENAME": "q", "durable": "true", "deleteWhenUnused": "yes", "exclusive": "1",
				"prefetchCount": "3", "maxPriority": "300", "ttlInSeconds": "60", "contentType": "application/json",
				"reconnectWaitInSeconds": "2",
			},
			check: func(t *testing.T, c config) {
				if !c.durable || !c.deleteWhenUnused || !c.exclusive || c.prefetchCount != 3 || c.maxPriority == nil ||
					*c.maxPriority != 255 || c.ttl != time.Minute || c.contentType != "application/json" || c.reconnectWait != 2*time.Second {
					t.Errorf("unexpected config: %+v", c)
				}
			},
		},
		{
			name:  "ttl alias and duration syntax",
			props: map[string]string{"host": rabbitURL, "queueName": "q", "ttl": "1m30s", "reconnectWaitInSeconds": "500ms"},
			check: func(t *testing.T, c config) {
				if c.ttl != 90*time.Second || c.reconnectWait != 500*time.Millisecond {
					t.Errorf("ttl = %v, reconnectWait = %v", c.ttl, c.reconnectWait)
				}
			},
		},
		{
			name:  "amqps gets TLS",
			props: map[string]string{"host": "amqps://h:5671", "queueName": "q", "externalSasl": "true"},
			check: func(t *testing.T, c config) {
				if c.conn.TLS == nil || !c.conn.SASLExternal {
					t.Errorf("unexpected connection settings: %+v", c.conn)
				}
			},
		},
		{name: "missing host", props: map[string]string{"queueName": "q"}, wantErr: "missing host"},
		{name: "bad host", props: map[string]string{"host": "localhost:5672", "queueName": "q"}, wantErr: "invalid host"},
		{name: "missing queue", props: map[string]string{"host": rabbitURL}, wantErr: "missing queueName"},
		{name: "bad prefetch", props: map[string]string{"host": rabbitURL, "queueName": "q", "prefetchCount": "-1"}, wantErr: "prefetchCount"},
		{name: "bad priority", props: map[string]string{"host": rabbitURL, "queueName": "q", "maxPriority": "high"}, wantErr: "maxPriority"},
		{name: "bad ttl", props: map[string]string{"host": rabbitURL, "queueName": "q", "ttlInSeconds": "soon"}, wantErr: "ttlInSeconds"},
		{name: "half client cert", props: map[string]string{"host": rabbitURL, "queueName": "q", "clientCert": "x"}, wantErr: "clientCert"},
		{name: "bad CA", props: map[string]string{"host": rabbitURL, "queueName": "q", "caCert": "nope"}, wantErr: "caCert"},
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
	b.cfg = config{contentType: "text/plain"}
	tests := []struct {
		name    string
		md      map[string]string
		want    amqp.Publishing
		wantErr string
	}{
		{
			name: "defaults",
			want: amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "text/plain", Body: []byte("x"), Headers: amqp.Table{}},
		},
		{
			name: "metadata",
			md:   map[string]string{"ttlInSeconds": "5", "priority": "7", "contentType": "application/json", "k": "v"},
			want: amqp.Publishing{
				DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: []byte("x"), Expiration: "5000", Priority: 7,
				Headers: amqp.Table{"ttlInSeconds": "5", "priority": "7", "contentType": "application/json", "k": "v"},
			},
		},
		{name: "bad ttl", md: map[string]string{"ttlInSeconds": "-1"}, wantErr: "ttlInSeconds"},
		{name: "bad priority", md: map[string]string{"priority": "256"}, wantErr: "priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.publishing(&bindings.InvokeRequest{Operation: bindings.OpCreate, Data: []byte("x"), Metadata: tt.md})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	got := headers(amqp.Table{"plain": "v", "with space": "a&b", "number": int32(3)})
	want := map[string]string{"plain": "v", "with+space": "a%26b"}
	if !maps.Equal(got, want) {
		t.Errorf("headers = %v, want %v", got, want)
	}
}

// newQueue returns a queue name no other run uses and deletes the queue
// when the test ends.
func newQueue(t *testing.T) string {
	t.Helper()
	testutil.RequireService(t, "RabbitMQ", rabbitAddr)
	b := make([]byte, 6)
	rand.Read(b)
	q := "outrigger-test-binding-" + hex.EncodeToString(b)
	t.Cleanup(func() {
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
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("cleanup: delete queue %s: %v", q, err)
		}
	})
	return q
}

func newBinding(t *testing.T, queue string, extra map[string]string) *Binding {
	t.Helper()
	props := map[string]string{"host": rabbitURL, "queueName": queue, "reconnectWaitInSeconds": "200ms"}
	maps.Copy(props, extra)
	b := New()
	if err := b.Init(context.Background(), bindings.Metadata{Name: "rabbit", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func invoke(t *testing.T, out *Binding, data string, md map[string]string) {
	t.Helper()
	if _, err := out.Invoke(context.Background(), &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: []byte(data), Metadata: md}); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
}

// messageCount reads how many messages wait in the queue.
func messageCount(t *testing.T, queue string) int {
	t.Helper()
	conn, err := amqp.Dial(rabbitURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("inspect queue: %v", err)
	}
	return q.Messages
}

func TestRoundTrip(t *testing.T) {
	queue := newQueue(t)
	out := newBinding(t, queue, nil)
	in := newBinding(t, queue, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "hello", map[string]string{"custom key": "v&w"})
	ev := c.Next(t)
	if string(ev.Data) != "hello" || ev.Metadata["custom+key"] != "v%26w" {
		t.Errorf("event = %q %v", ev.Data, ev.Metadata)
	}
	in.Close() // waits for the ack
	if n := messageCount(t, queue); n != 0 {
		t.Errorf("%d messages left in the queue after the ack", n)
	}
}

func TestFailedMessageIsRequeued(t *testing.T) {
	queue := newQueue(t)
	out := newBinding(t, queue, nil)
	in := newBinding(t, queue, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	c.FailFirst = 2
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "retry me", nil)
	for i := range 3 {
		if ev := c.Next(t); string(ev.Data) != "retry me" {
			t.Fatalf("delivery %d = %q", i+1, ev.Data)
		}
	}
	c.None(t, 200*time.Millisecond)
	in.Close()
	if n := messageCount(t, queue); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}
}

// The engine pauses by cancelling Read's context and resumes with a new
// Read: messages sent meanwhile wait in the queue.
func TestReadAgainAfterPause(t *testing.T) {
	queue := newQueue(t)
	out := newBinding(t, queue, nil)
	in := newBinding(t, queue, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	if err := in.Read(ctx, c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "one", nil)
	c.Next(t)
	cancel()

	invoke(t, out, "two", nil)
	c.None(t, 300*time.Millisecond)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if ev := c.Next(t); string(ev.Data) != "two" {
		t.Errorf("after resume got %q, want two", ev.Data)
	}
}

func TestTTLAndPriority(t *testing.T) {
	queue := newQueue(t)
	out := newBinding(t, queue, map[string]string{"maxPriority": "10"})
	// With no consumer, a message with a zero TTL expires on arrival.
	invoke(t, out, "expired", map[string]string{"ttlInSeconds": "0"})
	invoke(t, out, "low", map[string]string{"priority": "1"})
	invoke(t, out, "high", map[string]string{"priority": "9"})

	in := newBinding(t, queue, map[string]string{"maxPriority": "10", "prefetchCount": "1"})
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"high", "low"} {
		if ev := c.Next(t); string(ev.Data) != want {
			t.Errorf("got %q, want %q", ev.Data, want)
		}
	}
	c.None(t, 200*time.Millisecond)
}

func TestQueueDeclaredWithOtherSettingsFailsInit(t *testing.T) {
	queue := newQueue(t)
	newBinding(t, queue, map[string]string{"durable": "true"})
	b := New()
	defer b.Close()
	err := b.Init(context.Background(), bindings.Metadata{Properties: map[string]string{"host": rabbitURL, "queueName": queue}})
	if err == nil || !strings.Contains(err.Error(), "declare queue") {
		t.Fatalf("Init err = %v, want a declare error", err)
	}
}

func TestCloseStopsReading(t *testing.T) {
	queue := newQueue(t)
	out := newBinding(t, queue, nil)
	in := newBinding(t, queue, nil)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Read(t.Context(), c.Handle); !errors.Is(err, errClosed) {
		t.Errorf("Read after Close: err = %v", err)
	}
	if _, err := in.Invoke(t.Context(), &bindings.InvokeRequest{Operation: bindings.OpCreate}); !errors.Is(err, errClosed) {
		t.Errorf("Invoke after Close: err = %v", err)
	}
	invoke(t, out, "late", nil)
	c.None(t, 200*time.Millisecond)
	if n := messageCount(t, queue); n != 1 {
		t.Errorf("queue holds %d messages, want 1", n)
	}
}

func TestInvokeUnknownOperation(t *testing.T) {
	b := New()
	_, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "get"})
	if err == nil || !strings.Contains(err.Error(), "invalid operation") {
		t.Errorf("err = %v", err)
	}
}

// An exclusive queue belongs to the input's connection; the output of the
// same component still reaches it.
func TestExclusiveQueue(t *testing.T) {
	queue := newQueue(t)
	md := map[string]string{"exclusive": "true"}
	out := newBinding(t, queue, md)
	in := newBinding(t, queue, md)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "mine", nil)
	if ev := c.Next(t); string(ev.Data) != "mine" {
		t.Errorf("got %q", ev.Data)
	}
}

// Reading and sending resume after the connection drops.
func TestReconnect(t *testing.T) {
	queue := newQueue(t)
	p := testutil.StartProxy(t, rabbitAddr)
	md := map[string]string{"host": "amqp://guest:guest@" + p.Addr()}
	out := newBinding(t, queue, md)
	in := newBinding(t, queue, md)
	c := bindingstest.NewCollector(10 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "before", nil)
	c.Next(t)

	p.Sever()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := out.Invoke(t.Context(), &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: []byte("after")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Invoke after the connection dropped: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// "before" may come again: its ack can have been lost with the
	// connection (at-least-once).
	for ev := c.Next(t); string(ev.Data) != "after"; ev = c.Next(t) {
		if string(ev.Data) != "before" {
			t.Fatalf("unexpected event %q", ev.Data)
		}
	}
}
