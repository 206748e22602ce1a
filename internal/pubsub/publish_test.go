package pubsub

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRawPayload(t *testing.T) {
	tests := []struct {
		md      map[string]string
		want    bool
		wantErr string
	}{
		{nil, false, ""},
		{map[string]string{"rawPayload": ""}, false, ""},
		{map[string]string{"rawPayload": "true"}, true, ""},
		{map[string]string{"rawPayload": "1"}, true, ""},
		{map[string]string{"rawPayload": "False"}, false, ""},
		{map[string]string{"rawPayload": "yes"}, false, "rawPayload value must be a valid boolean: actual is 'yes'"},
		{map[string]string{"RawPayload": "yes"}, false, ""}, // the key is case-sensitive
	}
	for _, tt := range tests {
		got, err := RawPayload(tt.md)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("RawPayload(%v) = %v, %q; want %v, %q", tt.md, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestTTL(t *testing.T) {
	tests := []struct {
		md   map[string]string
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{map[string]string{"ttlInSeconds": "30"}, 30 * time.Second, true},
		{map[string]string{"ttlInSeconds": "0"}, 0, false},
		{map[string]string{"ttlInSeconds": "-5"}, 0, false},
		{map[string]string{"ttlInSeconds": "1m"}, 0, false},
		{map[string]string{"ttlInSeconds": "99999999999999"}, math.MaxInt64, true},
		{map[string]string{"ttl": "45"}, 45 * time.Second, true},
		{map[string]string{"ttl": "1m30s"}, 90 * time.Second, true},
		{map[string]string{"ttl": "-1s"}, 0, false},
		{map[string]string{"ttl": "soon"}, 0, false},
		{map[string]string{"ttlInSeconds": "10", "ttl": "1h"}, 10 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := TTL(tt.md)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TTL(%v) = %v, %v; want %v, %v", tt.md, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBrokerMetadata(t *testing.T) {
	tests := []struct {
		in, want map[string]string
	}{
		{nil, nil},
		{map[string]string{"a": "1"}, map[string]string{"a": "1"}},
		{map[string]string{"ttl": "1m"}, map[string]string{"ttl": "1m", "ttlInSeconds": "60"}},
		{map[string]string{"ttl": "1500ms"}, map[string]string{"ttl": "1500ms", "ttlInSeconds": "2"}},
		{map[string]string{"ttl": "bad"}, map[string]string{"ttl": "bad"}},
		{map[string]string{"ttl": "1m", "ttlInSeconds": "5"}, map[string]string{"ttl": "1m", "ttlInSeconds": "5"}},
	}
	for _, tt := range tests {
		before := copyMap(tt.in)
		if got := BrokerMetadata(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("BrokerMetadata(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !reflect.DeepEqual(before, tt.in) {
			t.Errorf("input modified: %v", tt.in)
		}
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// recordingBroker records publishes; fail decides per request.
type recordingBroker struct {
	mu        sync.Mutex
	published []PublishRequest
	fail      func(*PublishRequest) error
	inFlight  atomic.Int32
	maxFlight atomic.Int32
	hold      chan struct{} // when set, Publish waits on it
}

func (b *recordingBroker) Init(context.Context, Metadata) error { return nil }
func (b *recordingBroker) Features() []Feature                  { return nil }
func (b *recordingBroker) Subscribe(context.Context, SubscribeRequest, Handler) error {
	return errors.New("not supported")
}
func (b *recordingBroker) Close() error { return nil }

func (b *recordingBroker) Publish(ctx context.Context, req *PublishRequest) error {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.maxFlight.Load()
		if n <= m || b.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if b.hold != nil {
		select {
		case <-b.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	b.published = append(b.published, *req)
	b.mu.Unlock()
	if b.fail != nil {
		return b.fail(req)
	}
	return nil
}

type bulkBroker struct {
	recordingBroker
	calls    []BulkPublishRequest
	failures []BulkPublishFailure
	err      error
}

func (b *bulkBroker) BulkPublish(_ context.Context, req *BulkPublishRequest) ([]BulkPublishFailure, error) {
	b.calls = append(b.calls, *req)
	return b.failures, b.err
}

func TestComponentPublishPrefixesTopic(t *testing.T) {
	b := &recordingBroker{}
	c := NewComponent("ps", "pubsub.fake", "v1", b, Scopes{})
	c.NamespacePrefix = "ns1."
	req := &PublishRequest{Topic: "orders", Data: []byte("x")}
	if err := c.Publish(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if b.published[0].Topic != "ns1.orders" || req.Topic != "orders" {
		t.Fatalf("broker topic %q, request topic %q", b.published[0].Topic, req.Topic)
	}
}

func TestComponentBulkPublishFallback(t *testing.T) {
	boom := errors.New("boom")
	b := &recordingBroker{fail: func(r *PublishRequest) error {
		if string(r.Data) == "bad" {
			return boom
		}
		return nil
	}}
	c := NewComponent("ps", "pubsub.fake", "v1", b, Scopes{})
	c.NamespacePrefix = "ns."
	var entries []BulkPublishEntry
	for i, d := range []string{"ok", "bad", "ok", "bad"} {
		entries = append(entries, BulkPublishEntry{EntryID: string(rune('a' + i)), Data: []byte(d), Metadata: map[string]string{"k": d}})
	}
	failures, err := c.BulkPublish(context.Background(), &BulkPublishRequest{Topic: "t", Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	want := []BulkPublishFailure{{EntryID: "b", Error: boom}, {EntryID: "d", Error: boom}}
	if !reflect.DeepEqual(failures, want) {
		t.Fatalf("failures = %v, want %v", failures, want)
	}
	if len(b.published) != 4 {
		t.Fatalf("published %d", len(b.published))
	}
	for _, p := range b.published {
		if p.Topic != "ns.t" || p.Metadata["k"] != string(p.Data) {
			t.Errorf("published %+v", p)
		}
	}
	if got := FirstError(failures, nil); got != boom {
		t.Errorf("FirstError = %v", got)
	}
}

func TestComponentBulkPublishBounded(t *testing.T) {
	b := &recordingBroker{hold: make(chan struct{})}
	c := NewComponent("ps", "pubsub.fake", "v1", b, Scopes{})
	entries := make([]BulkPublishEntry, 3*bulkPublishConcurrency)
	for i := range entries {
		entries[i].EntryID = string(rune('A' + i))
	}
	done := make(chan []BulkPublishFailure)
	go func() {
		f, _ := c.BulkPublish(context.Background(), &BulkPublishRequest{Topic: "t", Entries: entries})
		done <- f
	}()
	// Wait until the pool is full, then let everything through.
	deadline := time.Now().Add(5 * time.Second)
	for b.inFlight.Load() < bulkPublishConcurrency && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(b.hold)
	if f := <-done; len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
	if m := b.maxFlight.Load(); m != bulkPublishConcurrency {
		t.Fatalf("max in flight = %d, want %d", m, bulkPublishConcurrency)
	}
}

func TestComponentBulkPublishNative(t *testing.T) {
	boom := errors.New("down")
	tests := []struct {
		name         string
		failures     []BulkPublishFailure
		err          error
		wantFailures []BulkPublishFailure
	}{
		{"all ok", nil, nil, nil},
		{"partial", []BulkPublishFailure{{EntryID: "2", Error: boom}}, nil, []BulkPublishFailure{{EntryID: "2", Error: boom}}},
		{"whole call failed without detail", nil, boom, []BulkPublishFailure{{EntryID: "1", Error: boom}, {EntryID: "2", Error: boom}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &bulkBroker{failures: tt.failures, err: tt.err}
			c := NewComponent("ps", "pubsub.fake", "v1", b, Scopes{})
			c.NamespacePrefix = "ns."
			failures, err := c.BulkPublish(context.Background(), &BulkPublishRequest{Topic: "t", Entries: []BulkPublishEntry{{EntryID: "1"}, {EntryID: "2"}}})
			if err != tt.err || !reflect.DeepEqual(failures, tt.wantFailures) {
				t.Fatalf("got %v, %v; want %v, %v", failures, err, tt.wantFailures, tt.err)
			}
			if len(b.calls) != 1 || b.calls[0].Topic != "ns.t" || len(b.published) != 0 {
				t.Fatalf("calls %v, single publishes %d", b.calls, len(b.published))
			}
		})
	}
}
