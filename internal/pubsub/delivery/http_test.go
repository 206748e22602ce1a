package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

// httpFixture is an engine with one declarative subscription to topic
// "orders" on pub/sub "ps", delivering to an HTTP app.
type httpFixture struct {
	app    *httpApp
	broker *fakeBroker
	engine *Engine
}

func newHTTPFixture(t *testing.T, spec resources.SubscriptionSpec, respond func(w http.ResponseWriter, r *http.Request, body []byte)) *httpFixture {
	t.Helper()
	f := &httpFixture{broker: newFakeBroker()}
	f.app = newHTTPApp(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path == "/dapr/subscribe" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		respond(w, r, body)
	})
	spec.PubsubName, spec.Topic = "ps", "orders"
	f.engine = startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", f.broker, pubsub.Scopes{})},
		Channel:     f.app.channel(t),
		Declarative: []resources.Subscription{{Metadata: resources.ObjectMeta{Name: "s"}, Spec: spec}},
	})
	return f
}

func (f *httpFixture) deliver(t *testing.T, msg *pubsub.Message) error {
	t.Helper()
	return f.broker.deliver(t, "orders", msg)
}

func answer(code int, body string) func(w http.ResponseWriter, r *http.Request, _ []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func TestHTTPDeliveryRequest(t *testing.T) {
	f := newHTTPFixture(t, resources.SubscriptionSpec{Routes: resources.Routes{Default: "orders//new/"}}, answer(200, ""))
	body := cloudEvent(t, nil)
	msg := &pubsub.Message{Data: body, ContentType: "application/json", Metadata: map[string]string{
		"custom": "v1", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"bad key": "dropped", "newline": "a\nb",
	}}
	if err := f.deliver(t, msg); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	reqs := f.app.requests("/orders/new")
	if len(reqs) != 1 {
		t.Fatalf("app got %d requests on /orders/new; all: %+v", len(reqs), f.app.requests(""))
	}
	r := reqs[0]
	checks := map[string]string{
		"method":       r.method,
		"Content-Type": r.header.Get("Content-Type"),
		"pubsubName":   r.header.Get("pubsubName"),
		"custom":       r.header.Get("custom"),
		"traceparent":  r.header.Get("traceparent"),
		"body":         string(r.body),
	}
	want := map[string]string{
		"method":       "POST",
		"Content-Type": "application/cloudevents+json",
		"pubsubName":   "ps",
		"custom":       "v1",
		"traceparent":  msg.Metadata["traceparent"],
		"body":         string(body),
	}
	for k, v := range want {
		if checks[k] != v {
			t.Errorf("%s = %q, want %q", k, checks[k], v)
		}
	}
	if r.header.Get("newline") != "" {
		t.Error("invalid header value forwarded")
	}
}

func TestHTTPResponseContract(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		body    string
		outcome outcome
	}{
		{"200 empty", 200, "", outcomeSuccess},
		{"204", 204, "", outcomeSuccess},
		{"200 text", 200, "thanks", outcomeSuccess},
		{"200 JSON without status", 200, `{"ok":true}`, outcomeSuccess},
		{"SUCCESS", 200, `{"status":"SUCCESS"}`, outcomeSuccess},
		{"empty status", 200, `{"status":""}`, outcomeSuccess},
		{"RETRY", 200, `{"status":"RETRY"}`, outcomeRetry},
		{"unknown status", 200, `{"status":"LATER"}`, outcomeRetry},
		{"DROP", 200, `{"status":"DROP"}`, outcomeDrop},
		{"404", 404, "", outcomeDrop},
		{"500", 500, "", outcomeRetry},
		{"400", 400, `{"status":"SUCCESS"}`, outcomeRetry},
	}
	for _, tc := range tests {
		for _, withDLQ := range []bool{false, true} {
			name := tc.name
			if withDLQ {
				name += " with dead letter"
			}
			t.Run(name, func(t *testing.T) {
				spec := resources.SubscriptionSpec{Routes: resources.Routes{Default: "/orders"}}
				if withDLQ {
					spec.DeadLetterTopic = "dead"
				}
				f := newHTTPFixture(t, spec, answer(tc.code, tc.body))
				body := cloudEvent(t, nil)
				err := f.deliver(t, &pubsub.Message{Data: body, ContentType: "application/cloudevents+json"})
				dead := f.broker.publishedTo("dead")

				wantErr := tc.outcome == outcomeRetry && !withDLQ
				if (err != nil) != wantErr {
					t.Fatalf("handler error = %v, want error: %v", err, wantErr)
				}
				wantDead := withDLQ && tc.outcome != outcomeSuccess
				if (len(dead) == 1) != wantDead || len(dead) > 1 {
					t.Fatalf("dead letters = %d, want dead-lettered: %v", len(dead), wantDead)
				}
				if wantDead && (string(dead[0].Data) != string(body) || dead[0].ContentType != "application/cloudevents+json") {
					t.Errorf("dead letter = %q (%s), want the original message", dead[0].Data, dead[0].ContentType)
				}
				var se *HTTPStatusError
				if tc.code >= 300 && tc.code != 404 && !withDLQ && (!errors.As(err, &se) || se.Code != tc.code) {
					t.Errorf("error %v does not carry HTTP status %d", err, tc.code)
				}
			})
		}
	}
}

func TestRouting(t *testing.T) {
	spec := resources.SubscriptionSpec{
		Routes: resources.Routes{
			Rules: []resources.Rule{
				{Match: `event.type == "order.created"`, Path: "/created"},
				{Match: `event.data.qty > 5`, Path: "/big"},
				{Match: `has(event.vip) && event.vip`, Path: "/vip"},
			},
		},
		DeadLetterTopic: "dead",
	}
	f := newHTTPFixture(t, spec, answer(200, ""))
	tests := []struct {
		name  string
		attrs map[string]any
		path  string // "" = not delivered
		dead  bool
	}{
		{"first rule", map[string]any{"type": "order.created", "data": map[string]any{"qty": 10}}, "/created", false},
		{"second rule, int", map[string]any{"data": map[string]any{"qty": 10}}, "/big", false},
		{"second rule, double", map[string]any{"data": map[string]any{"qty": 7.5}}, "/big", false},
		{"third rule", map[string]any{"vip": true}, "/vip", false},
		{"no match drops to dead letter", map[string]any{}, "", true},
		{"evaluation error dead-letters", map[string]any{"data": "text"}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.app.requests(""))
			deadBefore := len(f.broker.publishedTo("dead"))
			attrs := map[string]any{"id": tc.name}
			for k, v := range tc.attrs {
				attrs[k] = v
			}
			if err := f.deliver(t, &pubsub.Message{Data: cloudEvent(t, attrs)}); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			reqs := f.app.requests("")
			if tc.path == "" && len(reqs) != before {
				t.Fatalf("event delivered to %s, want none", reqs[len(reqs)-1].path)
			}
			if tc.path != "" && (len(reqs) != before+1 || reqs[len(reqs)-1].path != tc.path) {
				t.Fatalf("requests %+v, want one more on %s", reqs[before:], tc.path)
			}
			if got := len(f.broker.publishedTo("dead")) - deadBefore; got != map[bool]int{false: 0, true: 1}[tc.dead] {
				t.Fatalf("%d dead letters, want dead: %v", got, tc.dead)
			}
		})
	}
}

func TestRoutingErrorWithoutDeadLetterRetries(t *testing.T) {
	spec := resources.SubscriptionSpec{Routes: resources.Routes{Rules: []resources.Rule{{Match: `event.data.qty > 5`, Path: "/big"}}}}
	f := newHTTPFixture(t, spec, answer(200, ""))
	if err := f.deliver(t, &pubsub.Message{Data: cloudEvent(t, map[string]any{"data": "text"})}); err == nil {
		t.Fatal("want an error for a match that cannot be evaluated")
	}
	if err := f.deliver(t, &pubsub.Message{Data: cloudEvent(t, map[string]any{"data": map[string]any{"qty": 1}})}); err != nil {
		t.Fatalf("unmatched event: %v, want ack", err)
	}
	if n := len(f.app.requests("")); n != 0 {
		t.Fatalf("app got %d requests, want none", n)
	}
}

func TestRawPayloadWrapping(t *testing.T) {
	spec := resources.SubscriptionSpec{Routes: resources.Routes{Default: "/raw"}, Metadata: map[string]string{"rawPayload": "true"}}
	f := newHTTPFixture(t, spec, answer(200, ""))
	payload := []byte("not json \x00\x01")
	md := map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-01", "traceid": "tid"}
	if err := f.deliver(t, &pubsub.Message{Data: payload, ContentType: "text/plain", Metadata: md}); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	reqs := f.app.requests("/raw")
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	var ce map[string]any
	if err := json.Unmarshal(reqs[0].body, &ce); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	want := map[string]any{
		"specversion": "1.0", "datacontenttype": "application/octet-stream", "source": "Dapr",
		"type": "com.dapr.event.sent", "topic": "orders", "pubsubname": "ps",
		"data_base64": base64.StdEncoding.EncodeToString(payload),
		"traceparent": md["traceparent"], "traceid": "tid",
	}
	for k, v := range want {
		if ce[k] != v {
			t.Errorf("%s = %v, want %v", k, ce[k], v)
		}
	}
	if id, _ := ce["id"].(string); id == "" {
		t.Error("wrapped event has no id")
	}
	if _, ok := ce["tracestate"]; ok {
		t.Error("tracestate added although the broker had none")
	}
}

func TestNonCloudEventMessages(t *testing.T) {
	spec := resources.SubscriptionSpec{
		Routes: resources.Routes{Rules: []resources.Rule{{Match: `event.type == "bin"`, Path: "/bin"}}, Default: "/other"},
	}
	t.Run("not JSON is retried", func(t *testing.T) {
		f := newHTTPFixture(t, spec, answer(200, ""))
		for _, data := range []string{"plain text", `["array"]`, `{"a":1} trailing`} {
			if err := f.deliver(t, &pubsub.Message{Data: []byte(data), ContentType: "text/plain"}); err == nil {
				t.Errorf("%q: want an error", data)
			}
		}
		if n := len(f.app.requests("")); n != 0 {
			t.Fatalf("app got %d requests", n)
		}
	})
	t.Run("not JSON is dead-lettered", func(t *testing.T) {
		s := spec
		s.DeadLetterTopic = "dead"
		f := newHTTPFixture(t, s, answer(200, ""))
		if err := f.deliver(t, &pubsub.Message{Data: []byte("plain"), ContentType: "text/plain"}); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		if dead := f.broker.publishedTo("dead"); len(dead) != 1 || string(dead[0].Data) != "plain" {
			t.Fatalf("dead letters = %+v", dead)
		}
	})
	t.Run("binary mode routes on ce_ metadata", func(t *testing.T) {
		f := newHTTPFixture(t, spec, answer(200, ""))
		payload := []byte{0xff, 0x00, 0x10}
		msg := &pubsub.Message{Data: payload, ContentType: "application/octet-stream", Metadata: map[string]string{"ce_type": "bin", "ce_id": "b1"}}
		if err := f.deliver(t, msg); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		reqs := f.app.requests("/bin")
		if len(reqs) != 1 || string(reqs[0].body) != string(payload) || reqs[0].header.Get("Content-Type") != "application/cloudevents+json" {
			t.Fatalf("binary delivery = %+v", reqs)
		}
	})
}

func TestExpiration(t *testing.T) {
	spec := resources.SubscriptionSpec{Routes: resources.Routes{Default: "/orders"}, DeadLetterTopic: "dead"}
	f := newHTTPFixture(t, spec, answer(200, ""))
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	if err := f.deliver(t, &pubsub.Message{Data: cloudEvent(t, map[string]any{"expiration": past})}); err != nil {
		t.Fatalf("expired: %v, want ack", err)
	}
	if n := len(f.app.requests("")); n != 0 {
		t.Fatalf("expired event delivered (%d requests)", n)
	}
	if n := len(f.broker.publishedTo("dead")); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
	if err := f.deliver(t, &pubsub.Message{Data: cloudEvent(t, map[string]any{"expiration": future})}); err != nil {
		t.Fatalf("not expired: %v", err)
	}
	if n := len(f.app.requests("/orders")); n != 1 {
		t.Fatalf("unexpired event: %d requests, want 1", n)
	}
}

func TestRetryPolicy(t *testing.T) {
	f := &httpFixture{broker: newFakeBroker()}
	calls := 0
	f.app = newHTTPApp(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/orders" {
			calls++
			if calls < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
	})
	attempts := 0
	retry := func(ctx context.Context, name string, op func(context.Context) error) error {
		var err error
		for range 5 {
			attempts++
			if err = op(ctx); err == nil {
				return nil
			}
		}
		return err
	}
	startEngine(t, Config{
		PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", f.broker, pubsub.Scopes{})},
		Channel:     f.app.channel(t),
		Retry:       retry,
		Declarative: []resources.Subscription{declared("s", "orders", "/orders")},
	})
	if err := f.broker.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if attempts != 3 {
		t.Fatalf("%d attempts, want 3", attempts)
	}
}
