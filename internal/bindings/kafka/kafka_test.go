package kafka

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/bindingstest"
)

// newCluster starts franz-go's in-process fake Kafka (no real broker runs
// in these tests), creating topics on first use.
func newCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(2), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatalf("start fake Kafka cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

var seq atomic.Int64

// unique returns a name no other test of this run uses.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// newBinding initialises a binding; short group timers keep rebalances
// in the fake cluster quick.
func newBinding(t *testing.T, brokers string, extra map[string]string) *Binding {
	t.Helper()
	props := map[string]string{
		"brokers": brokers, "authType": "none",
		"heartbeatInterval": "300ms", "sessionTimeout": "6s", "consumeRetryInterval": "20",
	}
	maps.Copy(props, extra)
	b := New()
	if err := b.Init(t.Context(), bindings.Metadata{Name: "kafka", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func invoke(t *testing.T, out *Binding, data string, md map[string]string) {
	t.Helper()
	if _, err := out.Invoke(t.Context(), &bindings.InvokeRequest{Operation: bindings.OpCreate, Data: []byte(data), Metadata: md}); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	brokers := newCluster(t)
	tests := []struct {
		name    string
		md      map[string]string
		wantKey string
		wantMd  map[string]string
	}{
		{name: "partitionKey", md: map[string]string{"partitionKey": "k1", "h": "v"}, wantKey: "k1", wantMd: map[string]string{"h": "v"}},
		{name: "key", md: map[string]string{"key": "k2"}, wantKey: "k2"},
		{name: "no key", md: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := unique("topic")
			out := newBinding(t, brokers, map[string]string{"publishTopic": topic})
			in := newBinding(t, brokers, map[string]string{"topics": topic, "consumerGroup": unique("group")})
			c := bindingstest.NewCollector(15 * time.Second)
			if err := in.Read(t.Context(), c.Handle); err != nil {
				t.Fatal(err)
			}
			invoke(t, out, "hello", tt.md)
			ev := c.Next(t)
			if string(ev.Data) != "hello" || ev.Metadata["__topic"] != topic || ev.Metadata["__key"] != tt.wantKey {
				t.Errorf("event = %q %v", ev.Data, ev.Metadata)
			}
			for k, v := range tt.wantMd {
				if ev.Metadata[k] != v {
					t.Errorf("header %s = %q, want %q", k, ev.Metadata[k], v)
				}
			}
		})
	}
}

func TestSeveralTopics(t *testing.T) {
	brokers := newCluster(t)
	a, b := unique("a"), unique("b")
	outA := newBinding(t, brokers, map[string]string{"publishTopic": a})
	outB := newBinding(t, brokers, map[string]string{"publishTopic": b})
	in := newBinding(t, brokers, map[string]string{"topics": a + " , " + b, "consumerGroup": unique("group")})
	c := bindingstest.NewCollector(15 * time.Second)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, outA, "to a", nil)
	invoke(t, outB, "to b", nil)
	got := map[string]string{}
	for range 2 {
		ev := c.Next(t)
		got[ev.Metadata["__topic"]] = string(ev.Data)
	}
	if got[a] != "to a" || got[b] != "to b" {
		t.Errorf("events by topic = %v", got)
	}
}

// A record the app fails is delivered again before the next one, and
// committed only once taken.
func TestFailedRecordIsRetried(t *testing.T) {
	brokers := newCluster(t)
	topic := unique("topic")
	out := newBinding(t, brokers, map[string]string{"publishTopic": topic})
	in := newBinding(t, brokers, map[string]string{"topics": topic, "consumerGroup": unique("group")})
	c := bindingstest.NewCollector(15 * time.Second)
	c.FailFirst = 2
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatal(err)
	}
	md := map[string]string{"partitionKey": "same"} // one partition: ordered
	invoke(t, out, "first", md)
	invoke(t, out, "second", md)
	var got []string
	for range 4 {
		got = append(got, string(c.Next(t).Data))
	}
	if strings.Join(got, ",") != "first,first,first,second" {
		t.Errorf("deliveries = %v", got)
	}
}

// The engine pauses by cancelling Read's context and resumes with a new
// Read, which continues after the last committed record.
func TestReadAgainAfterPause(t *testing.T) {
	brokers := newCluster(t)
	topic, group := unique("topic"), unique("group")
	out := newBinding(t, brokers, map[string]string{"publishTopic": topic})
	in := newBinding(t, brokers, map[string]string{"topics": topic, "consumerGroup": group})
	c := bindingstest.NewCollector(15 * time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	if err := in.Read(ctx, c.Handle); err != nil {
		t.Fatal(err)
	}
	invoke(t, out, "one", nil)
	c.Next(t)
	cancel()

	invoke(t, out, "two", nil)
	c.None(t, 200*time.Millisecond)
	if err := in.Read(t.Context(), c.Handle); err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if ev := c.Next(t); string(ev.Data) != "two" {
		t.Errorf("after resume got %q, want two", ev.Data)
	}
	c.None(t, 200*time.Millisecond)
}

func TestInitErrors(t *testing.T) {
	brokers := newCluster(t)
	tests := []struct {
		name    string
		props   map[string]string
		wantErr string
	}{
		{name: "missing brokers", props: map[string]string{"authType": "none"}, wantErr: "brokers"},
		{name: "missing authType", props: map[string]string{"brokers": brokers}, wantErr: "authType"},
		{name: "unsupported authType", props: map[string]string{"brokers": brokers, "authType": "oidc"}, wantErr: "not supported"},
		{name: "password without user", props: map[string]string{"brokers": brokers, "authType": "password"}, wantErr: "saslUsername"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New()
			defer b.Close()
			err := b.Init(t.Context(), bindings.Metadata{Properties: tt.props})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDirectionSettingsMissing(t *testing.T) {
	brokers := newCluster(t)
	b := newBinding(t, brokers, nil)
	if _, err := b.Invoke(t.Context(), &bindings.InvokeRequest{Operation: bindings.OpCreate}); err == nil || !strings.Contains(err.Error(), "publishTopic") {
		t.Errorf("Invoke without publishTopic: err = %v", err)
	}
	if _, err := b.Invoke(t.Context(), &bindings.InvokeRequest{Operation: "get"}); err == nil || !strings.Contains(err.Error(), "invalid operation") {
		t.Errorf("unknown operation: err = %v", err)
	}
	// No topics: nothing to read, as in Dapr, and no error.
	if err := b.Read(t.Context(), bindingstest.NewCollector(15*time.Second).Handle); err != nil {
		t.Errorf("Read without topics: %v", err)
	}
	withTopics := newBinding(t, brokers, map[string]string{"topics": unique("topic")})
	if err := withTopics.Read(t.Context(), bindingstest.NewCollector(15*time.Second).Handle); err == nil || !strings.Contains(err.Error(), "consumerGroup") {
		t.Errorf("Read without consumerGroup: err = %v", err)
	}
}
