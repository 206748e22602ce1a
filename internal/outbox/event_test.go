package outbox

import (
	"reflect"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/state"
)

func TestContentType(t *testing.T) {
	tests := []struct {
		name string
		req  state.SetRequest
		want string
	}{
		{"JSON value", state.SetRequest{Value: []byte(`{"a":1}`)}, "application/json"},
		{"text bytes", state.SetRequest{Value: []byte("hi"), Binary: true}, "text/plain"},
		{"binary bytes", state.SetRequest{Value: []byte{0xff}, Binary: true}, "application/octet-stream"},
		{"contentType metadata", state.SetRequest{Value: []byte("<a/>"), Binary: true, Metadata: map[string]string{"contentType": "application/xml"}}, "application/xml"},
		{"override wins", state.SetRequest{Value: []byte("x"), Metadata: map[string]string{"contentType": "application/json", "outbox.cloudevent.datacontenttype": "text/csv"}}, "text/csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := contentType(tt.req); got != tt.want {
				t.Errorf("contentType = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCloudEventMetadata(t *testing.T) {
	md := map[string]string{
		"outbox.cloudevent.id": "1", "Outbox.CloudEvent.Type": "T", "outbox.cloudevent.subject": "s",
		"outbox.cloudevent.data": "no", "outbox.cloudevent.datacontenttype": "text/csv",
		"outbox.cloudevent.myapp": "x", "outbox.projection": "true", "contentType": "application/json", "cloudevent.id": "not outbox",
	}
	overrides, extensions := cloudEventMetadata(md)
	wantO := map[string]string{"cloudevent.id": "1", "cloudevent.type": "T", "cloudevent.subject": "s"}
	wantE := map[string]string{"outbox.cloudevent.myapp": "x"}
	if !reflect.DeepEqual(overrides, wantO) || !reflect.DeepEqual(extensions, wantE) {
		t.Errorf("got %v, %v; want %v, %v", overrides, extensions, wantO, wantE)
	}
}

func TestBuildEventMatchesAPublish(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := StoreConfig{PublishPubSub: "ps", PublishTopic: "orders"}
	b, err := buildEvent("myapp", cfg, state.SetRequest{Key: "k", Value: []byte(`{"n":1.50}`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := pubsub.ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ce["id"].(string)
	// The same envelope a publish of the value builds, with the outbox id.
	want, err := pubsub.NewEnvelope(pubsub.EnvelopeRequest{Source: "myapp", Topic: "orders", PubSub: "ps", ContentType: "application/json",
		Data: []byte(`{"n":1.50}`), Metadata: map[string]string{"cloudevent.id": id}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(want) {
		t.Errorf("event\n%s\nwant\n%s", b, want)
	}
	if len(id) <= len(eventIDPrefix) || id[:len(eventIDPrefix)] != eventIDPrefix {
		t.Errorf("id = %q", id)
	}
}
