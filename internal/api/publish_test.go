package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/pubsub"
)

// fakeBroker records publishes; payload "fail" or "notfound" makes Publish fail.
type fakeBroker struct {
	mu        sync.Mutex
	features  []pubsub.Feature
	published []pubsub.PublishRequest
}

func (b *fakeBroker) Init(context.Context, pubsub.Metadata) error { return nil }
func (b *fakeBroker) Features() []pubsub.Feature                  { return b.features }
func (b *fakeBroker) Subscribe(context.Context, pubsub.SubscribeRequest, pubsub.Handler) error {
	return errors.New("not supported")
}
func (b *fakeBroker) Close() error { return nil }

func (b *fakeBroker) Publish(_ context.Context, req *pubsub.PublishRequest) error {
	b.mu.Lock()
	b.published = append(b.published, *req)
	b.mu.Unlock()
	return failureFor(req.Data)
}

// failureFor looks at the raw payload, or at the data of an envelope.
func failureFor(data []byte) error {
	s := string(data)
	if ce, err := pubsub.ParseEnvelope(data); err == nil {
		s = fmt.Sprint(ce["data"])
	}
	switch s {
	case "fail":
		return errors.New("broker down")
	case "notfound":
		return fmt.Errorf("no such topic: %w", pubsub.ErrNotFound)
	}
	return nil
}

func (b *fakeBroker) all() []pubsub.PublishRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]pubsub.PublishRequest(nil), b.published...)
}

// bulkBroker also implements BulkPublisher.
type bulkBroker struct {
	fakeBroker
	calls []pubsub.BulkPublishRequest
}

func (b *bulkBroker) BulkPublish(_ context.Context, req *pubsub.BulkPublishRequest) ([]pubsub.BulkPublishFailure, error) {
	b.calls = append(b.calls, *req)
	var failures []pubsub.BulkPublishFailure
	for _, e := range req.Entries {
		if err := failureFor(e.Data); err != nil {
			failures = append(failures, pubsub.BulkPublishFailure{EntryID: e.EntryID, Error: err})
		}
	}
	return failures, nil
}

func newCore(t *testing.T, b pubsub.Broker, props map[string]string, prefix string) *api.Core {
	t.Helper()
	scopes, err := pubsub.ParseScopes("myapp", props)
	if err != nil {
		t.Fatal(err)
	}
	ps := pubsub.NewComponent("ps", "pubsub.fake", "v1", b, scopes)
	ps.NamespacePrefix = prefix
	return api.New(api.Config{AppID: "myapp", PubSubs: []*pubsub.Component{ps}})
}

type wantErr struct {
	code     string
	http     int
	grpc     codes.Code
	reason   string
	msg      string
	md       map[string]string
	resource bool
}

func checkErr(t *testing.T, err error, w wantErr) {
	t.Helper()
	var e *apierr.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *apierr.Error", err, err)
	}
	if e.Code != w.code || e.HTTPStatus != w.http || e.GRPCCode != w.grpc || e.Reason != w.reason || e.Message != w.msg {
		t.Fatalf("got %s/%d/%v/%s %q\nwant %s/%d/%v/%s %q", e.Code, e.HTTPStatus, e.GRPCCode, e.Reason, e.Message, w.code, w.http, w.grpc, w.reason, w.msg)
	}
	if !reflect.DeepEqual(e.Metadata, w.md) {
		t.Errorf("metadata = %v, want %v", e.Metadata, w.md)
	}
	if (e.Resource != nil) != w.resource {
		t.Errorf("resource = %+v, want present=%v", e.Resource, w.resource)
	}
	if e.Resource != nil && (e.Resource.Type != "pubsub" || e.Resource.Description != e.Message) {
		t.Errorf("resource = %+v", e.Resource)
	}
}

func TestPublishErrors(t *testing.T) {
	bad := map[string]string{"rawPayload": "maybe"}
	tests := []struct {
		name  string
		core  func(t *testing.T) *api.Core
		req   *runtimev1.PublishEventRequest
		want  wantErr
		calls int // broker publishes expected
	}{
		{"no pubsub at all", func(*testing.T) *api.Core { return api.New(api.Config{AppID: "myapp"}) },
			&runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Metadata: bad},
			wantErr{"ERR_PUBSUB_NOT_CONFIGURED", 400, codes.FailedPrecondition, "DAPR_PUBSUB_NOT_CONFIGURED", "pubsub ps is not configured", bad, false}, 0},
		{"empty name", nil, &runtimev1.PublishEventRequest{Topic: "t", Metadata: bad},
			wantErr{"ERR_PUBSUB_EMPTY", 404, codes.InvalidArgument, "DAPR_PUBSUB_NAME_EMPTY", "pubsub name is empty", bad, true}, 0},
		{"unknown name", nil, &runtimev1.PublishEventRequest{PubsubName: "nope", Topic: "t", Metadata: bad},
			wantErr{"ERR_PUBSUB_NOT_FOUND", 404, codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND", "pubsub nope is not found", bad, false}, 0},
		{"empty topic", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Metadata: bad},
			wantErr{"ERR_TOPIC_NAME_EMPTY", 404, codes.InvalidArgument, "DAPR_PUBSUB_TOPIC_NAME_EMPTY", "topic is empty in pubsub ps", bad, true}, 0},
		{"rawPayload not a bool", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "forbidden", Metadata: bad},
			wantErr{"ERR_PUBSUB_REQUEST_METADATA", 400, codes.InvalidArgument, "DAPR_PUBSUB_METADATA_DESERIALIZATION",
				"failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'maybe'", bad, true}, 0},
		{"invalid user cloud event", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "forbidden", DataContentType: "application/cloudevents+json", Data: []byte("[1]")},
			wantErr{"ERR_PUBSUB_CLOUD_EVENTS_SER", 500, codes.InvalidArgument, "DAPR_PUBSUB_CLOUD_EVENT_CREATION", "cannot create cloudevent",
				map[string]string{"appID": "myapp", "error": "invalid cloud event: not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"}, true}, 0},
		{"forbidden topic", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "forbidden"},
			wantErr{"ERR_PUBSUB_FORBIDDEN", 403, codes.PermissionDenied, "DAPR_PUBSUB_FORBIDDEN", "topic forbidden is not allowed for app id myapp",
				map[string]string{"topic": "forbidden", "error": "topic forbidden is not allowed for app id myapp"}, true}, 0},
		{"broker not found", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("notfound"), Metadata: map[string]string{"rawPayload": "true"}},
			wantErr{"ERR_PUBSUB_NOT_FOUND", 400, codes.NotFound, "DAPR_PUBSUB_TEST_NOT_FOUND", "pubsub 'ps' not found",
				map[string]string{"topic": "t", "error": "no such topic: pubsub: not found"}, true}, 1},
		{"broker failure", nil, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("fail"), Metadata: map[string]string{"rawPayload": "true"}},
			wantErr{"ERR_PUBSUB_PUBLISH_MESSAGE", 500, codes.Internal, "DAPR_PUBSUB_PUBLISH_MESSAGE", "error when publishing to topic t in pubsub ps: broker down",
				map[string]string{"topic": "t", "error": "broker down"}, true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBroker{}
			c := newCore(t, b, map[string]string{"allowedTopics": "t"}, "")
			if tt.core != nil {
				c = tt.core(t)
			}
			checkErr(t, c.PublishEvent(context.Background(), tt.req), tt.want)
			if n := len(b.all()); n != tt.calls {
				t.Errorf("broker publishes = %d, want %d", n, tt.calls)
			}
			// Bulk publish shares the checks that come before the entries.
			if tt.calls == 0 && tt.want.code != "ERR_PUBSUB_CLOUD_EVENTS_SER" {
				_, err := c.BulkPublishEvent(context.Background(), &runtimev1.BulkPublishRequest{PubsubName: tt.req.GetPubsubName(), Topic: tt.req.GetTopic(), Metadata: tt.req.GetMetadata()})
				checkErr(t, err, tt.want)
			}
		})
	}
}

func TestPublishEnvelope(t *testing.T) {
	b := &fakeBroker{}
	c := newCore(t, b, nil, "ns.")
	md := map[string]string{"cloudevent.type": "order.created", "cloudevent.id": "e1", "partitionKey": "k1", "ttl": "2m"}
	err := c.PublishEvent(context.Background(), &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "a/b", Data: []byte(`{"n":1}`), DataContentType: "application/json", Metadata: md})
	if err != nil {
		t.Fatal(err)
	}
	p := b.all()[0]
	if p.Topic != "ns.a/b" || p.ContentType != pubsub.ContentTypeCloudEvent {
		t.Fatalf("topic %q content type %q", p.Topic, p.ContentType)
	}
	// All metadata reaches the broker (as in daprd), with the TTL also as ttlInSeconds.
	wantMD := map[string]string{"cloudevent.type": "order.created", "cloudevent.id": "e1", "partitionKey": "k1", "ttl": "2m", "ttlInSeconds": "120"}
	if !reflect.DeepEqual(p.Metadata, wantMD) {
		t.Errorf("broker metadata = %v", p.Metadata)
	}
	ce, err := pubsub.ParseEnvelope(p.Data)
	if err != nil {
		t.Fatal(err)
	}
	// The envelope names the app's topic, not the namespaced one.
	for k, v := range map[string]string{"id": "e1", "type": "order.created", "source": "myapp", "topic": "a/b", "pubsubname": "ps", "datacontenttype": "application/json"} {
		if ce[k] != v {
			t.Errorf("%s = %v, want %v", k, ce[k], v)
		}
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(ce["expiration"]))
	if left := time.Until(exp); err != nil || left < time.Minute || left > 2*time.Minute {
		t.Errorf("expiration = %v (%v)", ce["expiration"], err)
	}
	if fmt.Sprint(ce["data"]) != "map[n:1]" {
		t.Errorf("data = %v", ce["data"])
	}
}

func TestPublishTTLWithBrokerSupport(t *testing.T) {
	b := &fakeBroker{features: []pubsub.Feature{pubsub.FeatureMessageTTL}}
	c := newCore(t, b, nil, "")
	err := c.PublishEvent(context.Background(), &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("x"), Metadata: map[string]string{"ttlInSeconds": "5"}})
	if err != nil {
		t.Fatal(err)
	}
	p := b.all()[0]
	ce, _ := pubsub.ParseEnvelope(p.Data)
	if _, ok := ce["expiration"]; ok || p.Metadata["ttlInSeconds"] != "5" {
		t.Fatalf("envelope %s, metadata %v", p.Data, p.Metadata)
	}
}

func TestPublishRaw(t *testing.T) {
	b := &fakeBroker{}
	c := newCore(t, b, nil, "")
	body := []byte{0xff, 0x00, 'x'}
	err := c.PublishEvent(context.Background(), &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: body, DataContentType: "application/octet-stream", Metadata: map[string]string{"rawPayload": "TRUE"}})
	if err != nil {
		t.Fatal(err)
	}
	p := b.all()[0]
	if string(p.Data) != string(body) || p.ContentType != "application/octet-stream" {
		t.Fatalf("published %+v", p)
	}
}

func TestBulkPublish(t *testing.T) {
	entries := func() []*runtimev1.BulkPublishRequestEntry {
		return []*runtimev1.BulkPublishRequestEntry{
			{EntryId: "1", Event: []byte(`{"a":1}`), ContentType: "application/json", Metadata: map[string]string{"cloudevent.type": "mine"}},
			{EntryId: "2", Event: []byte("fail"), ContentType: "text/plain"},
			{EntryId: "3", Event: []byte("ok"), ContentType: "text/plain", Metadata: map[string]string{"k": "entry"}},
		}
	}
	reqMD := map[string]string{"k": "request", "cloudevent.source": "bulk"}
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			fb := &fakeBroker{}
			bb := &bulkBroker{}
			var br pubsub.Broker = fb
			if native {
				br = bb
			}
			c := newCore(t, br, nil, "")
			res, err := c.BulkPublishEvent(context.Background(), &runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: entries(), Metadata: reqMD})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.GetFailedEntries()) != 1 || res.GetFailedEntries()[0].GetEntryId() != "2" || res.GetFailedEntries()[0].GetError() != "broker down" {
				t.Fatalf("failed entries = %v", res.GetFailedEntries())
			}
			var got []pubsub.BulkPublishEntry
			if native {
				if len(bb.calls) != 1 || len(bb.all()) != 0 {
					t.Fatalf("bulk calls %d, single publishes %d", len(bb.calls), len(bb.all()))
				}
				got = bb.calls[0].Entries
			} else {
				for _, p := range fb.all() {
					got = append(got, pubsub.BulkPublishEntry{EntryID: "?", Data: p.Data, ContentType: p.ContentType, Metadata: p.Metadata})
				}
			}
			if len(got) != 3 {
				t.Fatalf("published %d entries", len(got))
			}
			byData := map[string]map[string]any{}
			for _, e := range got {
				ce, err := pubsub.ParseEnvelope(e.Data)
				if err != nil || e.ContentType != pubsub.ContentTypeCloudEvent {
					t.Fatalf("entry %s (%s): %v", e.Data, e.ContentType, err)
				}
				byData[fmt.Sprint(ce["data"])] = ce
				// Entry metadata wins over request metadata.
				if want := "request"; fmt.Sprint(ce["data"]) == "ok" {
					want = "entry"
					if e.Metadata["k"] != want {
						t.Errorf("metadata = %v", e.Metadata)
					}
				} else if e.Metadata["k"] != want {
					t.Errorf("metadata = %v", e.Metadata)
				}
			}
			first := byData["map[a:1]"]
			if first["type"] != "mine" || first["source"] != "bulk" || byData["ok"]["type"] != pubsub.DefaultEventType {
				t.Errorf("envelopes = %v", byData)
			}
			if first["id"] == byData["ok"]["id"] {
				t.Error("entries share a CloudEvent id")
			}
		})
	}
}

func TestBulkPublishErrors(t *testing.T) {
	ok := func(id string) *runtimev1.BulkPublishRequestEntry {
		return &runtimev1.BulkPublishRequestEntry{EntryId: id, Event: []byte("x"), ContentType: "text/plain"}
	}
	entryIDErr := wantErr{"ERR_PUBSUB_EVENTS_SER", 400, codes.InvalidArgument, "DAPR_PUBSUB_MARSHAL_EVENTS",
		"error marshaling events to bytes for topic t pubsub ps. error: entryId is duplicated or not present for entry",
		map[string]string{"appID": "myapp", "error": "entryId is duplicated or not present for entry"}, true}
	tests := []struct {
		name    string
		topic   string
		entries []*runtimev1.BulkPublishRequestEntry
		md      map[string]string
		want    wantErr
	}{
		{"missing entry id", "t", []*runtimev1.BulkPublishRequestEntry{ok("1"), ok("")}, nil, entryIDErr},
		{"duplicate entry id", "t", []*runtimev1.BulkPublishRequestEntry{ok("1"), ok("1")}, nil, entryIDErr},
		{"invalid cloud event entry", "t", []*runtimev1.BulkPublishRequestEntry{{EntryId: "1", Event: []byte("{"), ContentType: "application/cloudevents+json"}}, nil,
			wantErr{"ERR_PUBSUB_CLOUD_EVENTS_SER", 500, codes.InvalidArgument, "DAPR_PUBSUB_CLOUD_EVENT_CREATION", "cannot create cloudevent",
				map[string]string{"appID": "myapp", "error": "invalid cloud event: not a JSON object: unexpected EOF"}, true}},
		{"forbidden", "other", []*runtimev1.BulkPublishRequestEntry{ok("1")}, nil,
			wantErr{"ERR_PUBSUB_FORBIDDEN", 403, codes.PermissionDenied, "DAPR_PUBSUB_FORBIDDEN", "topic other is not allowed for app id myapp",
				map[string]string{"topic": "other", "error": "topic other is not allowed for app id myapp"}, true}},
		{"broker not found", "t", []*runtimev1.BulkPublishRequestEntry{{EntryId: "1", Event: []byte("notfound")}}, map[string]string{"rawPayload": "true"},
			wantErr{"ERR_PUBSUB_NOT_FOUND", 400, codes.NotFound, "DAPR_PUBSUB_TEST_NOT_FOUND", "pubsub 'ps' not found",
				map[string]string{"topic": "t", "error": "no such topic: pubsub: not found"}, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBroker{}
			c := newCore(t, b, map[string]string{"allowedTopics": "t"}, "")
			_, err := c.BulkPublishEvent(context.Background(), &runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: tt.topic, Entries: tt.entries, Metadata: tt.md})
			checkErr(t, err, tt.want)
			if tt.want.reason != "DAPR_PUBSUB_TEST_NOT_FOUND" && len(b.all()) != 0 {
				t.Errorf("broker was called: %v", b.all())
			}
		})
	}
}

func TestBulkPublishEmpty(t *testing.T) {
	c := newCore(t, &fakeBroker{}, nil, "")
	res, err := c.BulkPublishEvent(context.Background(), &runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "t"})
	if err != nil || len(res.GetFailedEntries()) != 0 {
		t.Fatalf("got %v, %v", res, err)
	}
}

func TestPubSubForGRPC(t *testing.T) {
	md := map[string]string{"a": "b"}
	e := apierr.PubSubNotConfigured("ps", md)
	got := apierr.From(apierr.PubSubForGRPC(e))
	if got.Metadata != nil || e.Metadata == nil || got.Code != e.Code {
		t.Fatalf("grpc form %+v, original %+v", got, e)
	}
	other := apierr.PubSubNotFound("ps", md)
	if apierr.PubSubForGRPC(other) != error(other) {
		t.Fatal("other errors must pass through")
	}
	if status := http.StatusBadRequest; got.HTTPStatus != status {
		t.Fatalf("status %d", got.HTTPStatus)
	}
}
