package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/pubsub"
)

// fakeBroker records publishes; a payload (raw or envelope data) "fail" or
// "notfound" makes Publish fail.
type fakeBroker struct {
	mu        sync.Mutex
	published []pubsub.PublishRequest
}

func (b *fakeBroker) Init(context.Context, pubsub.Metadata) error { return nil }
func (b *fakeBroker) Features() []pubsub.Feature                  { return nil }
func (b *fakeBroker) Subscribe(context.Context, pubsub.SubscribeRequest, pubsub.Handler) error {
	return errors.New("not supported")
}
func (b *fakeBroker) Close() error { return nil }

func (b *fakeBroker) Publish(_ context.Context, req *pubsub.PublishRequest) error {
	b.mu.Lock()
	b.published = append(b.published, *req)
	b.mu.Unlock()
	s := string(req.Data)
	if ce, err := pubsub.ParseEnvelope(req.Data); err == nil {
		s = fmt.Sprint(ce["data"])
	}
	switch s {
	case "fail":
		return errors.New("broker down")
	case "notfound":
		return fmt.Errorf("gone: %w", pubsub.ErrNotFound)
	}
	return nil
}

func (b *fakeBroker) all() []pubsub.PublishRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]pubsub.PublishRequest(nil), b.published...)
}

// newPubSubServer serves one pub/sub "ps" whose topic "other" is
// protected (forbidden to this app); withPubSub=false serves none.
func newPubSubServer(t *testing.T, withPubSub bool) (*httptest.Server, *fakeBroker) {
	t.Helper()
	b := &fakeBroker{}
	var pss []*pubsub.Component
	if withPubSub {
		scopes, err := pubsub.ParseScopes("myapp", map[string]string{"protectedTopics": "other"})
		if err != nil {
			t.Fatal(err)
		}
		pss = append(pss, pubsub.NewComponent("ps", "pubsub.fake", "v1", b, scopes))
	}
	core := api.New(api.Config{AppID: "myapp", PubSubs: pss})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, MaxBodySize: 4096}))
	t.Cleanup(srv.Close)
	return srv, b
}

func envelopeOf(t *testing.T, p pubsub.PublishRequest) map[string]any {
	t.Helper()
	ce, err := pubsub.ParseEnvelope(p.Data)
	if err != nil {
		t.Fatalf("not an envelope: %s", p.Data)
	}
	return ce
}

func TestPublishHTTP(t *testing.T) {
	srv, b := newPubSubServer(t, true)
	tests := []struct {
		method, path, body, ct string
		wantTopic, wantCT      string
		wantData               any
	}{
		{"POST", "/v1.0/publish/ps/a%2Fb/c?metadata.partitionKey=k1", "hello", "", "a/b/c", "text/plain", "hello"},
		{"PUT", "/v1.0/publish/ps/t", `{"n":1.50}`, "application/json", "t", "application/json", map[string]any{"n": json.Number("1.50")}},
		{"POST", "/v1.0/publish/ps/x+y", "z", "text/csv", "x y", "text/csv", "z"},
		{"POST", "//v1.0/publish/ps/./t/", "z", "", "t", "text/plain", "z"},
	}
	for i, tt := range tests {
		r := do(t, srv, tt.method, tt.path, tt.body, map[string]string{"Content-Type": tt.ct})
		if r.status != 204 || r.body != "" {
			t.Fatalf("%s %s: %d %s", tt.method, tt.path, r.status, r.body)
		}
		p := b.all()[i]
		ce := envelopeOf(t, p)
		if p.Topic != tt.wantTopic || ce["topic"] != tt.wantTopic || ce["datacontenttype"] != tt.wantCT || fmt.Sprint(ce["data"]) != fmt.Sprint(tt.wantData) {
			t.Errorf("%s: topic %q, envelope %s", tt.path, p.Topic, p.Data)
		}
	}
	if md := b.all()[0].Metadata; md["partitionKey"] != "k1" {
		t.Errorf("metadata = %v", md)
	}
}

func TestPublishHTTPRaw(t *testing.T) {
	srv, b := newPubSubServer(t, true)
	r := do(t, srv, "POST", "/v1.0/publish/ps/t?metadata.rawPayload=true", "\x00raw\xff", map[string]string{"Content-Type": "application/octet-stream"})
	if r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if p := b.all()[0]; string(p.Data) != "\x00raw\xff" || p.ContentType != "application/octet-stream" {
		t.Fatalf("published %+v", p)
	}
}

// errorReason returns the ErrorInfo reason of a rich error body.
func errorReason(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Details []struct {
			Type   string `json:"@type"`
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	for _, d := range e.Details {
		if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
			return d.Reason
		}
	}
	return ""
}

func TestPublishHTTPErrors(t *testing.T) {
	srv, b := newPubSubServer(t, true)
	none, _ := newPubSubServer(t, false)
	tests := []struct {
		name       string
		srv        *httptest.Server
		method     string
		path, body string
		ct         string
		status     int
		code       string
		reason     string
	}{
		{"not configured", none, "POST", "/v1.0/publish/ps/t", "x", "", 400, "ERR_PUBSUB_NOT_CONFIGURED", "DAPR_PUBSUB_NOT_CONFIGURED"},
		{"unknown pubsub", srv, "POST", "/v1.0/publish/nope/t", "x", "", 404, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_NOT_FOUND"},
		{"bulk segment with one more is a pubsub named bulk", srv, "POST", "/v1.0/publish/bulk/t", "x", "", 404, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_NOT_FOUND"},
		{"rawPayload not a bool", srv, "POST", "/v1.0/publish/ps/t?metadata.rawPayload=sure", "x", "", 400, "ERR_PUBSUB_REQUEST_METADATA", "DAPR_PUBSUB_METADATA_DESERIALIZATION"},
		{"forbidden", srv, "POST", "/v1.0/publish/ps/other", "x", "", 403, "ERR_PUBSUB_FORBIDDEN", "DAPR_PUBSUB_FORBIDDEN"},
		{"invalid cloud event", srv, "POST", "/v1.0/publish/ps/t", "not json", "application/cloudevents+json", 500, "ERR_PUBSUB_CLOUD_EVENTS_SER", "DAPR_PUBSUB_CLOUD_EVENT_CREATION"},
		{"broker not found", srv, "POST", "/v1.0/publish/ps/t", "notfound", "", 400, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_TEST_NOT_FOUND"},
		{"broker failure", srv, "POST", "/v1.0/publish/ps/t", "fail", "", 500, "ERR_PUBSUB_PUBLISH_MESSAGE", "DAPR_PUBSUB_PUBLISH_MESSAGE"},
		{"oversized body", srv, "POST", "/v1.0/publish/ps/t", string(make([]byte, 5000)), "", 400, "ERR_MALFORMED_REQUEST", ""},
		{"bulk not an array", srv, "POST", "/v1.0/publish/bulk/ps/t", `{}`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_UNMARSHAL_EVENTS"},
		{"bulk empty body", srv, "POST", "/v1.0/publish/bulk/ps/t", ``, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_UNMARSHAL_EVENTS"},
		{"bulk metadata not strings", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":"x","contentType":"text/plain","metadata":{"a":1}}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_UNMARSHAL_EVENTS"},
		{"bulk text event not a string", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":5,"contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk text event null", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":null,"contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk binary event not base64", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":"***","contentType":"application/octet-stream"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk binary event not a string", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":[1],"contentType":"application/octet-stream"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk unknown content type", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":"x","contentType":"image/png"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk missing content type", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":"x"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk missing entry id", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"event":"x","contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_EVENTS"},
		{"bulk duplicate entry id", srv, "POST", "/v1.0-alpha1/publish/bulk/ps/t", `[{"entryId":"1","event":"x","contentType":"text/plain"},{"entryId":"1","event":"y","contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_EVENTS"},
		{"bulk id checked before a later bad event", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"event":"x","contentType":"text/plain"},{"entryId":"2","event":5,"contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_EVENTS"},
		{"bulk event checked before its own id", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"event":5,"contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_EVENTS_SER", "DAPR_PUBSUB_MARSHAL_ENVELOPE"},
		{"bulk pubsub checked before the body", srv, "POST", "/v1.0/publish/bulk/nope/t", `garbage`, "", 404, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_NOT_FOUND"},
		{"bulk forbidden", srv, "POST", "/v1.0/publish/bulk/ps/other", `[{"entryId":"1","event":"x","contentType":"text/plain"}]`, "", 403, "ERR_PUBSUB_FORBIDDEN", "DAPR_PUBSUB_FORBIDDEN"},
		{"bulk broker not found", srv, "POST", "/v1.0/publish/bulk/ps/t", `[{"entryId":"1","event":"notfound","contentType":"text/plain"}]`, "", 400, "ERR_PUBSUB_NOT_FOUND", "DAPR_PUBSUB_TEST_NOT_FOUND"},
		{"wrong method falls to invoke", srv, "GET", "/v1.0/publish/ps/t", "", "", 404, "ERR_DIRECT_INVOKE", ""},
		{"no topic falls to invoke", srv, "POST", "/v1.0/publish/ps", "x", "", 404, "ERR_DIRECT_INVOKE", ""},
		{"alpha1 has no single publish", srv, "POST", "/v1.0-alpha1/publish/ps/t", "x", "", 404, "ERR_DIRECT_INVOKE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(b.all())
			r := do(t, tt.srv, tt.method, tt.path, tt.body, map[string]string{"Content-Type": tt.ct})
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.status, r.body)
			}
			if got := errorCode(t, r.body); got != tt.code {
				t.Fatalf("errorCode = %q, want %q (body %s)", got, tt.code, r.body)
			}
			if got := errorReason(t, r.body); got != tt.reason {
				t.Fatalf("reason = %q, want %q (body %s)", got, tt.reason, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.reason != "DAPR_PUBSUB_TEST_NOT_FOUND" && tt.reason != "DAPR_PUBSUB_PUBLISH_MESSAGE" && len(b.all()) != before {
				t.Errorf("broker was called")
			}
		})
	}
}

func TestPublishHTTPErrorBodies(t *testing.T) {
	srv, _ := newPubSubServer(t, true)
	tests := []struct{ path, want string }{
		{"/v1.0/publish/ps/other?metadata.k=v",
			`{"errorCode":"ERR_PUBSUB_FORBIDDEN","message":"topic other is not allowed for app id myapp","details":[` +
				`{"@type":"type.googleapis.com/google.rpc.ResourceInfo","resource_type":"pubsub","resource_name":"ps","owner":"","description":"topic other is not allowed for app id myapp"},` +
				`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_PUBSUB_FORBIDDEN","domain":"dapr.io","metadata":{"error":"topic other is not allowed for app id myapp","topic":"other"}}]}`},
		{"/v1.0/publish/nope/t?metadata.k=v",
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope is not found","details":[` +
				`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_PUBSUB_NOT_FOUND","domain":"dapr.io","metadata":{"k":"v"}}]}`},
		{"/v1.0/publish/nope/t",
			`{"errorCode":"ERR_PUBSUB_NOT_FOUND","message":"pubsub nope is not found","details":[` +
				`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_PUBSUB_NOT_FOUND","domain":"dapr.io","metadata":{}}]}`},
	}
	for _, tt := range tests {
		if r := do(t, srv, "POST", tt.path, "x", nil); r.body != tt.want {
			t.Errorf("%s: body =\n%s\nwant\n%s", tt.path, r.body, tt.want)
		}
	}
}

func TestBulkPublishHTTP(t *testing.T) {
	body := `[
		{"entryId":"1","event":"aGk=","contentType":"application/octet-stream"},
		{"entryId":"2","event":{"b":2,"a":12345678901234567890},"contentType":"application/json","metadata":{"cloudevent.type":"mine"}},
		{"entryId":"3","event":"<x/>","contentType":"application/xml"},
		{"entryId":"4","event":{"id":"ce","data":1},"contentType":"application/cloudevents+json"}
	]`
	for _, path := range []string{"/v1.0/publish/bulk/ps/a/b/c", "/v1.0-alpha1/publish/bulk/ps/a/b/c"} {
		srv, b := newPubSubServer(t, true)
		r := do(t, srv, "POST", path+"?metadata.cloudevent.source=src", body, nil)
		if r.status != 204 {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		byID := map[string]map[string]any{}
		for _, p := range b.all() {
			ce := envelopeOf(t, p)
			if p.Topic != "a/b/c" {
				t.Errorf("topic %q", p.Topic)
			}
			byID[fmt.Sprint(ce["type"], "|", ce["datacontenttype"])] = ce
		}
		if ce := byID["com.dapr.event.sent|application/octet-stream"]; ce["data_base64"] != "aGk=" || ce["source"] != "src" {
			t.Errorf("binary entry: %v", ce)
		}
		if ce := byID["mine|application/json"]; fmt.Sprint(ce["data"]) != "map[a:12345678901234567890 b:2]" || ce["source"] != "src" {
			t.Errorf("json entry: %v", ce)
		}
		if ce := byID["com.dapr.event.sent|application/xml"]; ce["data"] != "<x/>" {
			t.Errorf("xml entry: %v", ce)
		}
		if ce := byID["com.dapr.event.sent|<nil>"]; ce["id"] != "ce" || ce["source"] != "Dapr" || ce["topic"] != "a/b/c" {
			t.Errorf("cloud event entry: %v (all %v)", ce, byID)
		}
	}
}

func TestBulkPublishHTTPRaw(t *testing.T) {
	srv, b := newPubSubServer(t, true)
	body := `[{"entryId":"1","event":"AP8=","contentType":"application/octet-stream"},{"entryId":"2","event":{"b": 1},"contentType":"application/json"}]`
	r := do(t, srv, "PUT", "/v1.0/publish/bulk/ps/t?metadata.rawPayload=true", body, nil)
	if r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := map[string]string{}
	for _, p := range b.all() {
		got[p.ContentType] = string(p.Data)
	}
	if got["application/octet-stream"] != "\x00\xff" || got["application/json"] != `{"b":1}` {
		t.Fatalf("published %q", got)
	}
}

func TestBulkPublishHTTPPartialFailure(t *testing.T) {
	srv, b := newPubSubServer(t, true)
	body := `[{"entryId":"1","event":"ok","contentType":"text/plain"},{"entryId":"2","event":"fail","contentType":"text/plain"},{"entryId":"3","event":"ok","contentType":"text/plain"}]`
	r := do(t, srv, "POST", "/v1.0/publish/bulk/ps/t", body, nil)
	want := `{"failedEntries":[{"entryId":"2","error":"broker down"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}`
	if r.status != 500 || r.body != want {
		t.Fatalf("got %d %s\nwant 500 %s", r.status, r.body, want)
	}
	if r.header.Get("metadata.responseData") != want || r.header.Get("metadata.error") != "broker down" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers = %v", r.header)
	}
	if len(b.all()) != 3 {
		t.Fatalf("published %d", len(b.all()))
	}
}
