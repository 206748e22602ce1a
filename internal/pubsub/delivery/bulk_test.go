package delivery

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

func bulkSpec(count, awaitMs int32) resources.SubscriptionSpec {
	return resources.SubscriptionSpec{
		Routes:        resources.Routes{Default: "/bulk"},
		BulkSubscribe: resources.BulkSubscribe{Enabled: true, MaxMessagesCount: count, MaxAwaitDurationMs: awaitMs},
	}
}

// deliverAll delivers one message per id concurrently and returns each
// handler's error by id.
func deliverAll(t *testing.T, b *fakeBroker, ids []string, md map[string]string) map[string]error {
	t.Helper()
	s := b.sub("orders")
	if s == nil {
		t.Fatal("orders not subscribed")
	}
	var mu sync.Mutex
	errs := make(map[string]error)
	var wg sync.WaitGroup
	for _, id := range ids {
		data := cloudEvent(t, map[string]any{"id": id})
		wg.Go(func() {
			err := s.h(s.ctx, &pubsub.Message{Topic: "orders", Data: data, Metadata: md})
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

// bulkAnswer answers a bulk HTTP request with a status per event id
// (missing ids get no status).
func bulkAnswer(byEventID map[string]string) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, _ *http.Request, body []byte) {
		var req bulkRequest
		if err := json.Unmarshal(body, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var resp bulkResponse
		for _, ent := range req.Entries {
			var ce struct{ ID string }
			_ = json.Unmarshal(ent.Event, &ce)
			if st, ok := byEventID[ce.ID]; ok {
				resp.Statuses = append(resp.Statuses, struct {
					EntryID string `json:"entryId"`
					Status  string `json:"status"`
				}{ent.EntryID, st})
			}
		}
		json.NewEncoder(w).Encode(resp)
	}
}

func TestBulkHTTPStatuses(t *testing.T) {
	statuses := map[string]string{"ok": "SUCCESS", "drop": "DROP", "retry": "RETRY", "odd": "LATER", "empty": ""}
	f := newHTTPFixture(t, bulkSpec(6, 5000), bulkAnswer(statuses))
	ids := []string{"ok", "drop", "retry", "odd", "empty", "missing"}
	errs := deliverAll(t, f.broker, ids, map[string]string{"custom": "c"})
	for id, wantErr := range map[string]bool{"ok": false, "drop": false, "retry": true, "odd": true, "empty": true, "missing": true} {
		if (errs[id] != nil) != wantErr {
			t.Errorf("%s: error %v, want error: %v", id, errs[id], wantErr)
		}
	}
	reqs := f.app.requests("/bulk")
	if len(reqs) != 1 {
		t.Fatalf("%d bulk requests, want 1", len(reqs))
	}
	if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var req bulkRequest
	if err := json.Unmarshal(reqs[0].body, &req); err != nil {
		t.Fatal(err)
	}
	if req.Type != "com.dapr.event.sent.bulk" || req.Topic != "orders" || req.PubsubName != "ps" || req.ID == "" || len(req.Entries) != 6 {
		t.Fatalf("bulk request = %+v", req)
	}
	seen := map[string]bool{}
	for _, ent := range req.Entries {
		var ce map[string]any
		if err := json.Unmarshal(ent.Event, &ce); err != nil || ce["specversion"] != "1.0" {
			t.Errorf("entry event = %s", ent.Event)
		}
		if ent.ContentType != "application/cloudevents+json" || ent.Metadata["custom"] != "c" || ent.EntryID == "" || seen[ent.EntryID] {
			t.Errorf("entry = %+v", ent)
		}
		seen[ent.EntryID] = true
	}
}

func TestBulkHTTPWholeBatch(t *testing.T) {
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request, _ []byte)
		wantErr bool
	}{
		{"404 drops all", answer(404, ""), false},
		{"500 retries all", answer(500, ""), true},
		{"non-JSON retries all", answer(200, "ok"), true},
		{"empty body retries all", answer(200, ""), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newHTTPFixture(t, bulkSpec(2, 5000), tc.respond)
			for id, err := range deliverAll(t, f.broker, []string{"a", "b"}, nil) {
				if (err != nil) != tc.wantErr {
					t.Errorf("%s: error %v, want error: %v", id, err, tc.wantErr)
				}
			}
			if n := len(f.app.requests("/bulk")); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		})
	}
}

func TestBulkFlushesAfterMaxAwait(t *testing.T) {
	f := newHTTPFixture(t, bulkSpec(100, 30), bulkAnswer(map[string]string{"solo": "SUCCESS"}))
	start := time.Now()
	if err := deliverAll(t, f.broker, []string{"solo"}, nil)["solo"]; err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("flushed after %v, before maxAwaitDurationMs", d)
	}
}

func TestBulkRawPayload(t *testing.T) {
	spec := bulkSpec(1, 1000)
	spec.Metadata = map[string]string{"rawPayload": "true"}
	var mu sync.Mutex
	var got bulkRequest
	f := newHTTPFixture(t, spec, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		json.Unmarshal(body, &got)
		fmt.Fprintf(w, `{"statuses":[{"entryId":%q,"status":"SUCCESS"}]}`, got.Entries[0].EntryID)
	})
	if err := f.deliver(t, &pubsub.Message{Data: []byte("raw!"), ContentType: "text/plain"}); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var event string
	if err := json.Unmarshal(got.Entries[0].Event, &event); err != nil || event != base64.StdEncoding.EncodeToString([]byte("raw!")) {
		t.Fatalf("raw entry event = %s (%v)", got.Entries[0].Event, err)
	}
	if got.Entries[0].ContentType != "text/plain" {
		t.Errorf("content type = %q", got.Entries[0].ContentType)
	}
}

func TestBulkGRPCFallsBackToAlpha(t *testing.T) {
	var mu sync.Mutex
	var reqs []*runtimev1.TopicEventBulkRequest
	app := &grpcTestApp{bulkAlpha: func(req *runtimev1.TopicEventBulkRequest) (*runtimev1.TopicEventBulkResponse, error) {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		resp := &runtimev1.TopicEventBulkResponse{}
		for _, ent := range req.GetEntries() {
			st := runtimev1.TopicEventResponse_SUCCESS
			switch ent.GetCloudEvent().GetId() {
			case "retry":
				st = runtimev1.TopicEventResponse_RETRY
			case "drop":
				st = runtimev1.TopicEventResponse_DROP
			case "missing":
				continue
			}
			resp.Statuses = append(resp.Statuses, &runtimev1.TopicEventBulkResponseEntry{EntryId: ent.GetEntryId(), Status: st})
		}
		return resp, nil
	}}
	b := grpcFixture(t, app, bulkSpec(4, 5000), Config{})
	errs := deliverAll(t, b, []string{"ok", "retry", "drop", "missing"}, nil)
	for id, wantErr := range map[string]bool{"ok": false, "retry": true, "drop": false, "missing": true} {
		if (errs[id] != nil) != wantErr {
			t.Errorf("%s: error %v, want error: %v", id, errs[id], wantErr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 1 {
		t.Fatalf("%d bulk calls, want 1", len(reqs))
	}
	r := reqs[0]
	if r.GetType() != "com.dapr.event.sent.bulk" || r.GetTopic() != "orders" || r.GetPubsubName() != "ps" || r.GetPath() != "/bulk" || len(r.GetEntries()) != 4 {
		t.Fatalf("bulk request = %v", r)
	}
	if string(r.GetEntries()[0].GetCloudEvent().GetData()) != `{"qty":1}` {
		t.Errorf("entry data = %q", r.GetEntries()[0].GetCloudEvent().GetData())
	}
}

func TestBulkGRPCUnimplementedDrops(t *testing.T) {
	spec := bulkSpec(1, 1000)
	spec.DeadLetterTopic = "dead"
	b := grpcFixture(t, &grpcTestApp{}, spec, Config{})
	if err := deliverAll(t, b, []string{"x"}, nil)["x"]; err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if n := len(b.publishedTo("dead")); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}

// TestBulkRequestMarshalMatchesEncodingJSON: the hand-written encoder
// gives json.Marshal's bytes (and errors) for every shape of request.
func TestBulkRequestMarshalMatchesEncodingJSON(t *testing.T) {
	events := []json.RawMessage{
		json.RawMessage(`{"id":"1","data":{"a":[1,2]},"s":"q\"x\\\\"}`),
		json.RawMessage(" {\n \"id\" : \"ws\" } "),
		json.RawMessage(`{"html":"<b>&</b>","x":"\u2028"}`),
		json.RawMessage("{\"raw\":\"\u2028\u2029\"}"),
		json.RawMessage(`"aGVsbG8="`),
		nil,
	}
	md := map[string]string{"b": "2", "a": "<1>", "é": "\x00"}
	for i, ev := range events {
		req := bulkRequest{ID: "id", Type: bulkEventType, Topic: "t<1>", PubsubName: "ps", Metadata: md,
			Entries: []bulkEntry{{EntryID: "e1", Event: ev, Metadata: md, ContentType: "application/cloudevents+json"}, {EntryID: "e2", Event: events[0]}}}
		want, werr := json.Marshal(req)
		got, gerr := req.marshal()
		if string(got) != string(want) || (werr == nil) != (gerr == nil) {
			t.Errorf("event %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
	}
	for _, bad := range []json.RawMessage{json.RawMessage(`{`), json.RawMessage{}} {
		req := bulkRequest{Entries: []bulkEntry{{Event: bad}}}
		if _, err := req.marshal(); err == nil {
			t.Errorf("marshal accepted the event %q", bad)
		}
	}
}
