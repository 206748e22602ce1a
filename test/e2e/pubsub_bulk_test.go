package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bulkRequest is what the app receives from a bulk subscription
// (app-contract §2.5).
type bulkRequest struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Topic      string `json:"topic"`
	PubsubName string `json:"pubsubname"`
	Entries    []struct {
		EntryID     string          `json:"entryId"`
		Event       json.RawMessage `json:"event"`
		ContentType string          `json:"contentType"`
	} `json:"entries"`
}

// TestPubsubBulkSubscribe enables bulkSubscribe in a programmatic
// subscription: events arrive batched, and per-entry statuses are
// honoured (RETRY entries come back, SUCCESS ones do not).
func TestPubsubBulkSubscribe(t *testing.T) {
	env := newEnv(t, redisBroker)
	topic := env.topic("bulk")
	app := newSubApp(fmt.Sprintf(`[{"pubsubname":"pubsub","topic":%s,"route":"/bulk",
		"bulkSubscribe":{"enabled":true,"maxMessagesCount":10,"maxAwaitDurationMs":300}}]`, jsonString(topic)))
	var mu sync.Mutex
	seen := map[string]int{} // CloudEvent id → times delivered
	nOf := map[string]int{}  // CloudEvent id → its data.n
	app.answer = func(g got) (int, string) {
		var req bulkRequest
		if json.Unmarshal(g.body, &req) != nil {
			return 400, ""
		}
		mu.Lock()
		defer mu.Unlock()
		var statuses []string
		for _, e := range req.Entries {
			ev := decodeJSONQuiet(e.Event)
			id, _ := ev["id"].(string)
			seen[id]++
			n, _ := strconv.Atoi(dataField(ev, "n"))
			nOf[id] = n
			status := "SUCCESS"
			if n%2 == 1 && seen[id] == 1 {
				status = "RETRY"
			}
			statuses = append(statuses, fmt.Sprintf(`{"entryId":%s,"status":%q}`, jsonString(e.EntryID), status))
		}
		return 200, `{"statuses":[` + strings.Join(statuses, ",") + `]}`
	}
	s := startSidecars(t,
		env.peer(env.appID("pub"), env.resources(nil), 0),
		env.peer(env.appID("sub"), env.resources(nil), httpApp(t, app)),
	)
	var entries []string
	for n := range 6 {
		entries = append(entries, fmt.Sprintf(`{"entryId":"%d","event":{"n":"%d"},"contentType":"application/json"}`, n, n))
	}
	r := call(t, "POST", s[0].url("/v1.0-alpha1/publish/bulk/pubsub/"+topic), "["+strings.Join(entries, ",")+"]", nil)
	if r.status != 204 {
		t.Fatalf("bulk publish: %d %s", r.status, r.body)
	}

	// 6 events, the 3 odd ones twice.
	var reqs []bulkRequest
	total := 0
	deadline := time.After(15 * time.Second)
	for total < 9 {
		select {
		case g := <-app.ch:
			if ct := g.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("bulk delivery Content-Type %q", ct)
			}
			var req bulkRequest
			if err := json.Unmarshal(g.body, &req); err != nil {
				t.Fatalf("bulk delivery %s: %v", g.body, err)
			}
			reqs = append(reqs, req)
			total += len(req.Entries)
		case <-deadline:
			t.Fatalf("received %d entries in %d requests, want 9", total, len(reqs))
		}
	}
	app.quiet(t, 1500*time.Millisecond)

	batched := false
	for _, req := range reqs {
		if req.ID == "" || req.Type != "com.dapr.event.sent.bulk" || req.Topic != topic || req.PubsubName != "pubsub" {
			t.Errorf("bulk request header fields: %+v", req)
		}
		batched = batched || len(req.Entries) > 1
		ids := map[string]bool{}
		for _, e := range req.Entries {
			if e.EntryID == "" || ids[e.EntryID] || e.ContentType != "application/cloudevents+json" {
				t.Errorf("entry %+v", e)
			}
			ids[e.EntryID] = true
			ev := decodeJSON(t, e.Event)
			if ev["topic"] != topic || ev["type"] != "com.dapr.event.sent" {
				t.Errorf("entry event %s", e.Event)
			}
		}
	}
	if !batched {
		t.Errorf("no request carried more than one entry (%d requests)", len(reqs))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 6 {
		t.Errorf("%d distinct events delivered, want 6: %v", len(seen), seen)
	}
	for id, times := range seen {
		if want := 1 + nOf[id]%2; times != want {
			t.Errorf("event %s (n=%d) delivered %d times, want %d", id, nOf[id], times, want)
		}
	}
}
