package redis

import (
	"context"
	"encoding/json"
	"maps"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/pubsub"
)

// TestPublishLayout checks the stream entry against Dapr's layout: the
// payload byte-exact in "data", metadata as a JSON object in "metadata".
func TestPublishLayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.open(t, "layout", nil)
	topic := e.topic("publish")
	payload := []byte{0x00, 0xff, 'h', 'i', '\n', 0x80}
	md := map[string]string{"rawPayload": "true", "traceparent": "00-abc-def-01"}
	tests := []struct {
		name   string
		req    pubsub.PublishRequest
		fields map[string]string
	}{
		{"payload only", pubsub.PublishRequest{Topic: topic, Data: payload},
			map[string]string{"data": string(payload)}},
		{"with metadata and content type", pubsub.PublishRequest{Topic: topic, Data: payload, Metadata: md, ContentType: "application/octet-stream"},
			map[string]string{"data": string(payload), "metadata": "json", "contentType": "application/octet-stream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Publish(t.Context(), &tt.req); err != nil {
				t.Fatal(err)
			}
			entries, err := e.raw.XRevRangeN(t.Context(), topic, "+", "-", 1).Result()
			if err != nil || len(entries) != 1 {
				t.Fatalf("XREVRANGE = %v, %v", entries, err)
			}
			got := entries[0].Values
			if len(got) != len(tt.fields) {
				t.Errorf("entry fields = %v, want %v", got, tt.fields)
			}
			for k, want := range tt.fields {
				v, _ := got[k].(string)
				if k == "metadata" {
					var m map[string]string
					if err := json.Unmarshal([]byte(v), &m); err != nil || !maps.Equal(m, md) {
						t.Errorf("metadata field %q decodes to %v (%v), want %v", v, m, err, md)
					}
					continue
				}
				if v != want {
					t.Errorf("field %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestConsumeDaprEntries reads entries written the way a Dapr sidecar
// writes them, including ones added before the group existed (Dapr creates
// groups from id 0), and checks group and consumer naming.
func TestConsumeDaprEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	topic := e.topic("from-dapr")
	ctx := t.Context()
	md := `{"traceparent":"00-1-2-01","rawPayload":"true"}`
	entries := []map[string]any{
		{"data": `{"specversion":"1.0","id":"1","data":"x"}`},
		{"data": []byte{0x01, 0x00, 0xfe}, "metadata": md},
	}
	for _, v := range entries {
		if err := e.raw.XAdd(ctx, &goredis.XAddArgs{Stream: topic, Values: v}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	b := e.open(t, "dapr-app", nil)
	in := newInbox()
	subscribe(t, b, topic, in.handle)
	got := in.wait(t, 2, 10*time.Second)
	byData := map[string]pubsub.Message{}
	for _, m := range got {
		byData[string(m.Data)] = m
	}
	first, ok1 := byData[`{"specversion":"1.0","id":"1","data":"x"}`]
	second, ok2 := byData[string([]byte{0x01, 0x00, 0xfe})]
	if !ok1 || !ok2 {
		t.Fatalf("delivered %q, want both entries' data", got)
	}
	if first.Topic != topic || first.Metadata != nil || first.ContentType != "" {
		t.Errorf("first message = %+v", first)
	}
	wantMD := map[string]string{"traceparent": "00-1-2-01", "rawPayload": "true"}
	if !maps.Equal(second.Metadata, wantMD) {
		t.Errorf("second message metadata = %v, want %v", second.Metadata, wantMD)
	}

	groups, err := e.raw.XInfoGroups(ctx, topic).Result()
	if err != nil || len(groups) != 1 || groups[0].Name != "dapr-app" {
		t.Fatalf("XINFO GROUPS = %+v, %v; want one group named after consumerID", groups, err)
	}
	consumers, err := e.raw.XInfoConsumers(ctx, topic, "dapr-app").Result()
	if err != nil || len(consumers) != 1 || consumers[0].Name != "dapr-app" {
		t.Errorf("XINFO CONSUMERS = %+v, %v; want one consumer named after consumerID, as Dapr", consumers, err)
	}
	waitPending(t, e.raw, topic, "dapr-app", 0, 5*time.Second)
}

// waitPending waits until the group has n pending messages.
func waitPending(t *testing.T, raw *goredis.Client, topic, group string, n int64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, err := raw.XPending(context.Background(), topic, group).Result()
		if err == nil && p.Count == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending count of %s/%s = %+v (%v), want %d", topic, group, p, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTrimming publishes past old entries and checks Redis trims them:
// MAXLEN ~ and MINID ~ drop whole stream nodes (100 entries by default), so
// the tests fill a node before the entry that triggers trimming.
func TestTrimming(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		extra map[string]string
		ids   func(i int) string // ids of the entries added beforehand
	}{
		{"maxLenApprox", map[string]string{"maxLenApprox": "10"}, func(int) string { return "*" }},
		// Entries from 1970 are older than any streamTTL.
		{"streamTTL", map[string]string{"streamTTL": "1h"}, func(i int) string { return "1-" + strconv.Itoa(i+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := e.topic("trim-" + tt.name)
			const before = 250
			for i := range before {
				if err := e.raw.XAdd(t.Context(), &goredis.XAddArgs{Stream: topic, ID: tt.ids(i), Values: []any{"data", "old"}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			b := e.open(t, "trim", tt.extra)
			if err := b.Publish(t.Context(), &pubsub.PublishRequest{Topic: topic, Data: []byte("new")}); err != nil {
				t.Fatal(err)
			}
			n, err := e.raw.XLen(t.Context(), topic).Result()
			if err != nil || n > before-100 || n < 1 {
				t.Errorf("XLEN after publishing with %v = %d (%v), want at most %d", tt.extra, n, err, before-100)
			}
		})
	}
}
