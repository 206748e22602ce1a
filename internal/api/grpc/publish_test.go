package grpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
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

// newPubSubClient serves one pub/sub "ps" (topic "other" protected) or,
// with withPubSub=false, none.
func newPubSubClient(t *testing.T, withPubSub bool) (runtimev1.DaprClient, *fakeBroker) {
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
	srv := apigrpc.NewServer(apigrpc.Config{Core: core})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return runtimev1.NewDaprClient(conn), b
}

func errorInfo(err error) *errdetails.ErrorInfo {
	for _, d := range status.Convert(err).Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

func hasResourceInfo(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.ResourceInfo); ok {
			return ri.GetResourceType() == "pubsub"
		}
	}
	return false
}

func TestPublishGRPCErrors(t *testing.T) {
	ctx := context.Background()
	c, b := newPubSubClient(t, true)
	none, _ := newPubSubClient(t, false)
	md := map[string]string{"k": "v"}
	pub := func(cl runtimev1.DaprClient, req *runtimev1.PublishEventRequest) func() error {
		return func() error { _, err := cl.PublishEvent(ctx, req); return err }
	}
	bulk := func(req *runtimev1.BulkPublishRequest) func() error {
		return func() error { _, err := c.BulkPublishEvent(ctx, req); return err }
	}
	text := func(id, data string) *runtimev1.BulkPublishRequestEntry {
		return &runtimev1.BulkPublishRequestEntry{EntryId: id, Event: []byte(data), ContentType: "text/plain"}
	}
	tests := []struct {
		name     string
		call     func() error
		code     codes.Code
		reason   string
		msg      string
		wantMD   map[string]string
		resource bool
	}{
		{"not configured has no metadata", pub(none, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Metadata: md}),
			codes.FailedPrecondition, "DAPR_PUBSUB_NOT_CONFIGURED", "pubsub ps is not configured", nil, false},
		{"empty name", pub(c, &runtimev1.PublishEventRequest{Topic: "t", Metadata: md}),
			codes.InvalidArgument, "DAPR_PUBSUB_NAME_EMPTY", "pubsub name is empty", md, true},
		{"unknown name", pub(c, &runtimev1.PublishEventRequest{PubsubName: "x", Topic: "t", Metadata: md}),
			codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND", "pubsub x is not found", md, false},
		{"empty topic", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Metadata: md}),
			codes.InvalidArgument, "DAPR_PUBSUB_TOPIC_NAME_EMPTY", "topic is empty in pubsub ps", md, true},
		{"rawPayload not a bool", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Metadata: map[string]string{"rawPayload": "x"}}),
			codes.InvalidArgument, "DAPR_PUBSUB_METADATA_DESERIALIZATION", "failed deserializing metadata. Error: rawPayload value must be a valid boolean: actual is 'x'",
			map[string]string{"rawPayload": "x"}, true},
		{"forbidden", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "other"}),
			codes.PermissionDenied, "DAPR_PUBSUB_FORBIDDEN", "topic other is not allowed for app id myapp",
			map[string]string{"topic": "other", "error": "topic other is not allowed for app id myapp"}, true},
		{"invalid cloud event", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("{"), DataContentType: "application/cloudevents+json"}),
			codes.InvalidArgument, "DAPR_PUBSUB_CLOUD_EVENT_CREATION", "cannot create cloudevent",
			map[string]string{"appID": "myapp", "error": "invalid cloud event: not a JSON object: unexpected EOF"}, true},
		{"broker not found", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("notfound")}),
			codes.NotFound, "DAPR_PUBSUB_TEST_NOT_FOUND", "pubsub 'ps' not found", map[string]string{"topic": "t", "error": "gone: pubsub: not found"}, true},
		{"broker failure", pub(c, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "t", Data: []byte("fail")}),
			codes.Internal, "DAPR_PUBSUB_PUBLISH_MESSAGE", "error when publishing to topic t in pubsub ps: broker down",
			map[string]string{"topic": "t", "error": "broker down"}, true},
		{"bulk unknown name", bulk(&runtimev1.BulkPublishRequest{PubsubName: "x", Topic: "t"}),
			codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND", "pubsub x is not found", nil, false},
		{"bulk missing entry id", bulk(&runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: []*runtimev1.BulkPublishRequestEntry{text("", "x")}}),
			codes.InvalidArgument, "DAPR_PUBSUB_MARSHAL_EVENTS", "error marshaling events to bytes for topic t pubsub ps. error: entryId is duplicated or not present for entry",
			map[string]string{"appID": "myapp", "error": "entryId is duplicated or not present for entry"}, true},
		{"bulk forbidden", bulk(&runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "other", Entries: []*runtimev1.BulkPublishRequestEntry{text("1", "x")}}),
			codes.PermissionDenied, "DAPR_PUBSUB_FORBIDDEN", "topic other is not allowed for app id myapp",
			map[string]string{"topic": "other", "error": "topic other is not allowed for app id myapp"}, true},
		{"bulk broker not found", bulk(&runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "t", Entries: []*runtimev1.BulkPublishRequestEntry{text("1", "notfound")}}),
			codes.NotFound, "DAPR_PUBSUB_TEST_NOT_FOUND", "pubsub 'ps' not found", map[string]string{"topic": "t", "error": "gone: pubsub: not found"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("status = %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			ei := errorInfo(err)
			if ei == nil || ei.GetReason() != tt.reason || ei.GetDomain() != "dapr.io" || fmt.Sprint(ei.GetMetadata()) != fmt.Sprint(tt.wantMD) {
				t.Fatalf("error info = %v, want reason %s metadata %v", ei, tt.reason, tt.wantMD)
			}
			if hasResourceInfo(err) != tt.resource {
				t.Errorf("resource info present = %v, want %v", !tt.resource, tt.resource)
			}
		})
	}
	if n := len(b.all()); n != 3 { // broker not found, broker failure, bulk broker not found
		t.Errorf("broker publishes = %d, want 3", n)
	}
}

func TestPublishGRPC(t *testing.T) {
	ctx := context.Background()
	c, b := newPubSubClient(t, true)
	_, err := c.PublishEvent(ctx, &runtimev1.PublishEventRequest{PubsubName: "ps", Topic: "orders/eu", Data: []byte(`{"a":1}`), DataContentType: "application/json",
		Metadata: map[string]string{"cloudevent.subject": "s1"}})
	if err != nil {
		t.Fatal(err)
	}
	p := b.all()[0]
	ce, err := pubsub.ParseEnvelope(p.Data)
	if err != nil || p.Topic != "orders/eu" || ce["subject"] != "s1" || ce["source"] != "myapp" || fmt.Sprint(ce["data"]) != "map[a:1]" {
		t.Fatalf("published %s to %q (%v)", p.Data, p.Topic, err)
	}
}

func TestBulkPublishGRPCPartialFailure(t *testing.T) {
	ctx := context.Background()
	c, b := newPubSubClient(t, true)
	req := &runtimev1.BulkPublishRequest{PubsubName: "ps", Topic: "t", Metadata: map[string]string{"rawPayload": "true"}, Entries: []*runtimev1.BulkPublishRequestEntry{
		{EntryId: "a", Event: []byte("ok"), ContentType: "text/plain"},
		{EntryId: "b", Event: []byte("fail"), ContentType: "text/plain"},
		{EntryId: "c", Event: []byte{0xff}, ContentType: "application/octet-stream"},
	}}
	for name, call := range map[string]func(context.Context, *runtimev1.BulkPublishRequest, ...grpc.CallOption) (*runtimev1.BulkPublishResponse, error){
		"BulkPublishEvent": c.BulkPublishEvent,
		//lint:ignore SA1019 daprd still serves the deprecated name, so it is tested.
		"BulkPublishEventAlpha1": c.BulkPublishEventAlpha1,
	} {
		res, err := call(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := res.GetFailedEntries()
		if len(f) != 1 || f[0].GetEntryId() != "b" || f[0].GetError() != "broker down" {
			t.Fatalf("%s: failed entries %v", name, f)
		}
	}
	// Raw bytes are taken as they are (no base64 or JSON conversion).
	var sawBinary bool
	for _, p := range b.all() {
		if p.ContentType == "application/octet-stream" {
			sawBinary = string(p.Data) == "\xff"
		}
	}
	if !sawBinary || len(b.all()) != 6 {
		t.Fatalf("published %v", b.all())
	}
}
