package delivery

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

// grpcTestApp implements the app callback services; nil funcs answer
// Unimplemented.
type grpcTestApp struct {
	runtimev1.UnimplementedAppCallbackServer
	runtimev1.UnimplementedAppCallbackAlphaServer

	list      func() (*runtimev1.ListTopicSubscriptionsResponse, error)
	event     func(ctx context.Context, req *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error)
	bulk      func(req *runtimev1.TopicEventBulkRequest) (*runtimev1.TopicEventBulkResponse, error)
	bulkAlpha func(req *runtimev1.TopicEventBulkRequest) (*runtimev1.TopicEventBulkResponse, error)

	mu     sync.Mutex
	events []*runtimev1.TopicEventRequest
	md     []metadata.MD
}

func (a *grpcTestApp) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1.ListTopicSubscriptionsResponse, error) {
	if a.list == nil {
		return nil, status.Error(codes.Unimplemented, "no")
	}
	return a.list()
}

func (a *grpcTestApp) OnTopicEvent(ctx context.Context, req *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	a.mu.Lock()
	a.events = append(a.events, req)
	a.md = append(a.md, md)
	a.mu.Unlock()
	if a.event == nil {
		return nil, status.Error(codes.Unimplemented, "no")
	}
	return a.event(ctx, req)
}

func (a *grpcTestApp) OnBulkTopicEvent(_ context.Context, req *runtimev1.TopicEventBulkRequest) (*runtimev1.TopicEventBulkResponse, error) {
	if a.bulk == nil {
		return nil, status.Error(codes.Unimplemented, "no")
	}
	return a.bulk(req)
}

func (a *grpcTestApp) OnBulkTopicEventAlpha1(_ context.Context, req *runtimev1.TopicEventBulkRequest) (*runtimev1.TopicEventBulkResponse, error) {
	if a.bulkAlpha == nil {
		return nil, status.Error(codes.Unimplemented, "no")
	}
	return a.bulkAlpha(req)
}

func (a *grpcTestApp) received() ([]*runtimev1.TopicEventRequest, []metadata.MD) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*runtimev1.TopicEventRequest(nil), a.events...), append([]metadata.MD(nil), a.md...)
}

// serve starts the app on 127.0.0.1:0 and returns a channel to it.
func (a *grpcTestApp) serve(t *testing.T, maxConc int) appchannel.Channel {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimev1.RegisterAppCallbackServer(srv, a)
	runtimev1.RegisterAppCallbackAlphaServer(srv, a)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return channelTo(t, "grpc", lis.Addr().String(), maxConc)
}

func status200(st runtimev1.TopicEventResponse_TopicEventResponseStatus) func(context.Context, *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
	return func(context.Context, *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
		return &runtimev1.TopicEventResponse{Status: st}, nil
	}
}

func TestGRPCDiscovery(t *testing.T) {
	t.Run("listed", func(t *testing.T) {
		app := &grpcTestApp{list: func() (*runtimev1.ListTopicSubscriptionsResponse, error) {
			return &runtimev1.ListTopicSubscriptionsResponse{Subscriptions: []*runtimev1.TopicSubscription{
				{PubsubName: "ps", Topic: "a", Routes: &runtimev1.TopicRoutes{
					Rules:   []*runtimev1.TopicRule{{Match: `event.type == "x"`, Path: "x"}},
					Default: "d",
				}, DeadLetterTopic: "dead"},
				{PubsubName: "ps", Topic: "b"},
			}}, nil
		}}
		e := startEngine(t, Config{
			PubSubs: map[string]*pubsub.Component{"ps": newComp("ps", newFakeBroker(), pubsub.Scopes{})},
			Channel: app.serve(t, 0),
		})
		want := []string{`ps/a:PROGRAMMATIC:event.type == "x">x,>d:dlq=dead`, "ps/b:PROGRAMMATIC:"}
		if got := summary(e.Subscriptions()); !equalStrings(got, want) {
			t.Fatalf("subscriptions = %q, want %q", got, want)
		}
	})
	t.Run("unimplemented", func(t *testing.T) {
		app := &grpcTestApp{}
		e := startEngine(t, Config{
			PubSubs:     map[string]*pubsub.Component{"ps": newComp("ps", newFakeBroker(), pubsub.Scopes{})},
			Channel:     app.serve(t, 0),
			Declarative: []resources.Subscription{declared("d", "a", "/a")},
		})
		want := []string{"ps/a:DECLARATIVE:>/a"}
		if got := summary(e.Subscriptions()); !equalStrings(got, want) {
			t.Fatalf("subscriptions = %q, want %q", got, want)
		}
	})
}

// grpcFixture subscribes "orders" on "ps" declaratively for a gRPC app.
func grpcFixture(t *testing.T, app *grpcTestApp, spec resources.SubscriptionSpec, cfg Config) *fakeBroker {
	t.Helper()
	b := newFakeBroker()
	spec.PubsubName, spec.Topic = "ps", "orders"
	cfg.PubSubs = map[string]*pubsub.Component{"ps": newComp("ps", b, pubsub.Scopes{})}
	cfg.Declarative = []resources.Subscription{{Metadata: resources.ObjectMeta{Name: "s"}, Spec: spec}}
	if cfg.Channel == nil {
		cfg.Channel = app.serve(t, 0)
	}
	startEngine(t, cfg)
	return b
}

func TestGRPCTopicEventRequest(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]any
		raw   string // CloudEvent JSON used instead of attrs when set
		data  string
	}{
		{name: "json data re-encoded exactly", raw: `{"id":"1","source":"s","type":"t","specversion":"1.0","datacontenttype":"application/json","data":{"big":12345678901234567890,"f":1.50},"myext":"v","topic":"orders","pubsubname":"ps"}`,
			data: `{"big":12345678901234567890,"f":1.50}`},
		{name: "text data", attrs: map[string]any{"datacontenttype": "text/plain", "data": "hello"}, data: "hello"},
		{name: "xml data", attrs: map[string]any{"datacontenttype": "application/xml", "data": "<a/>"}, data: "<a/>"},
		{name: "json string data", attrs: map[string]any{"datacontenttype": "application/json", "data": "hi"}, data: `"hi"`},
		{name: "base64 data", attrs: map[string]any{"datacontenttype": "application/octet-stream", "data": nil, "data_base64": "AAEC"}, data: "\x00\x01\x02"},
	}
	app := &grpcTestApp{event: status200(runtimev1.TopicEventResponse_SUCCESS)}
	b := grpcFixture(t, app, resources.SubscriptionSpec{Routes: resources.Routes{Default: "/orders"}}, Config{AppAPIToken: "app-token"})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.raw)
			if tc.raw == "" {
				body = cloudEvent(t, tc.attrs)
			}
			if err := b.deliver(t, "orders", &pubsub.Message{Data: body, Metadata: map[string]string{"custom": "c"}}); err != nil {
				t.Fatalf("deliver: %v", err)
			}
			events, mds := app.received()
			if len(events) != i+1 {
				t.Fatalf("%d events", len(events))
			}
			ev, md := events[i], mds[i]
			if string(ev.GetData()) != tc.data {
				t.Errorf("data = %q, want %q", ev.GetData(), tc.data)
			}
			if ev.GetTopic() != "orders" || ev.GetPubsubName() != "ps" || ev.GetPath() != "/orders" || ev.GetSpecVersion() != "1.0" {
				t.Errorf("request = %v", ev)
			}
			if got := md.Get("dapr-api-token"); len(got) != 1 || got[0] != "app-token" {
				t.Errorf("dapr-api-token = %v", got)
			}
			if got := md.Get("custom"); len(got) != 1 || got[0] != "c" {
				t.Errorf("custom metadata = %v", got)
			}
		})
	}
	events, _ := app.received()
	first := events[0]
	if first.GetId() != "1" || first.GetSource() != "s" || first.GetType() != "t" || first.GetDataContentType() != "application/json" {
		t.Errorf("first request = %v", first)
	}
	ext := first.GetExtensions().AsMap()
	if ext["myext"] != "v" || ext["topic"] != "orders" {
		t.Errorf("extensions = %v", ext)
	}
	for _, k := range []string{"id", "data", "specversion", "datacontenttype"} {
		if _, ok := ext[k]; ok {
			t.Errorf("extensions contain %q", k)
		}
	}
}

func TestGRPCOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		event   func(context.Context, *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error)
		outcome outcome
	}{
		{"SUCCESS", status200(runtimev1.TopicEventResponse_SUCCESS), outcomeSuccess},
		{"RETRY", status200(runtimev1.TopicEventResponse_RETRY), outcomeRetry},
		{"DROP", status200(runtimev1.TopicEventResponse_DROP), outcomeDrop},
		{"unknown status", status200(runtimev1.TopicEventResponse_TopicEventResponseStatus(7)), outcomeRetry},
		{"Unimplemented", nil, outcomeDrop},
		{"error", func(context.Context, *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
			return nil, status.Error(codes.Internal, "boom")
		}, outcomeRetry},
	}
	for _, tc := range tests {
		for _, withDLQ := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				spec := resources.SubscriptionSpec{Routes: resources.Routes{Default: "/orders"}}
				if withDLQ {
					spec.DeadLetterTopic = "dead"
				}
				b := grpcFixture(t, &grpcTestApp{event: tc.event}, spec, Config{})
				err := b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)})
				if wantErr := tc.outcome == outcomeRetry && !withDLQ; (err != nil) != wantErr {
					t.Fatalf("withDLQ=%v: error = %v, want error: %v", withDLQ, err, wantErr)
				}
				wantDead := withDLQ && tc.outcome != outcomeSuccess
				if got := len(b.publishedTo("dead")); got != map[bool]int{false: 0, true: 1}[wantDead] {
					t.Fatalf("withDLQ=%v: %d dead letters, want dead-lettered: %v", withDLQ, got, wantDead)
				}
			})
		}
	}
}

func TestGRPCMaxConcurrency(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	app := &grpcTestApp{event: func(context.Context, *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		cur--
		mu.Unlock()
		return &runtimev1.TopicEventResponse{}, nil
	}}
	b := grpcFixture(t, app, resources.SubscriptionSpec{Routes: resources.Routes{Default: "/orders"}}, Config{MaxConcurrency: 1})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := b.deliver(t, "orders", &pubsub.Message{Data: cloudEvent(t, nil)}); err != nil {
				t.Errorf("deliver: %v", err)
			}
		})
	}
	wg.Wait()
	if peak != 1 {
		t.Fatalf("peak concurrency %d, want 1", peak)
	}
}
