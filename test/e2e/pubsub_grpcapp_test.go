package e2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// topicApp is a gRPC app that subscribes through ListTopicSubscriptions
// and records OnTopicEvent calls.
type topicApp struct {
	runtimev1.UnimplementedAppCallbackServer
	subs   []*runtimev1.TopicSubscription
	answer func(ev *runtimev1.TopicEventRequest, attempt int) (*runtimev1.TopicEventResponse, error)
	ch     chan *runtimev1.TopicEventRequest

	mu       sync.Mutex
	attempts map[string]int // path+id → calls
}

func (a *topicApp) ListTopicSubscriptions(context.Context, *emptypb.Empty) (*runtimev1.ListTopicSubscriptionsResponse, error) {
	return &runtimev1.ListTopicSubscriptionsResponse{Subscriptions: a.subs}, nil
}

func (a *topicApp) OnTopicEvent(_ context.Context, ev *runtimev1.TopicEventRequest) (*runtimev1.TopicEventResponse, error) {
	a.mu.Lock()
	a.attempts[ev.GetPath()+ev.GetId()]++
	n := a.attempts[ev.GetPath()+ev.GetId()]
	a.mu.Unlock()
	a.ch <- ev
	return a.answer(ev, n)
}

func serveTopicApp(t *testing.T, a *topicApp) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	runtimev1.RegisterAppCallbackServer(srv, a)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPubsubGRPCApp delivers to a gRPC app (grpc-api §2): the routed
// TopicEventRequest carries the CloudEvent fields and the matched path,
// RETRY is redelivered, and Unimplemented drops the event to the
// dead-letter topic.
func TestPubsubGRPCApp(t *testing.T) {
	env := newEnv(t, redisBroker)
	orders, strict, dead := env.topic("orders"), env.topic("strict"), env.topic("dead")
	app := &topicApp{
		ch:       make(chan *runtimev1.TopicEventRequest, 64),
		attempts: map[string]int{},
		subs: []*runtimev1.TopicSubscription{
			{PubsubName: "pubsub", Topic: orders, Routes: &runtimev1.TopicRoutes{
				Rules: []*runtimev1.TopicRule{{Match: `event.data.kind == "a"`, Path: "/a"}}, Default: "/other"}},
			{PubsubName: "pubsub", Topic: strict, Routes: &runtimev1.TopicRoutes{Default: "/strict"}, DeadLetterTopic: dead},
			{PubsubName: "pubsub", Topic: dead, Routes: &runtimev1.TopicRoutes{Default: "/dead"}},
		},
	}
	app.answer = func(ev *runtimev1.TopicEventRequest, attempt int) (*runtimev1.TopicEventResponse, error) {
		switch {
		case ev.GetPath() == "/strict":
			return nil, status.Error(codes.Unimplemented, "no such handler")
		case ev.GetPath() == "/other" && attempt == 1:
			return &runtimev1.TopicEventResponse{Status: runtimev1.TopicEventResponse_RETRY}, nil
		}
		return &runtimev1.TopicEventResponse{Status: runtimev1.TopicEventResponse_SUCCESS}, nil
	}
	pubID := env.appID("pub")
	s := startSidecars(t,
		env.peer(pubID, env.resources(nil), 0),
		env.peer(env.appID("sub"), env.resources(nil), serveTopicApp(t, app), "--app-protocol", "grpc"),
	)
	pub := s[0]
	mustPublish(t, pub, "pubsub", orders, "application/json", `{"kind":"a","n":1}`)
	mustPublish(t, pub, "pubsub", orders, "application/json", `{"kind":"b"}`)
	mustPublish(t, pub, "pubsub", strict, "text/plain", "hello")

	byPath := map[string][]*runtimev1.TopicEventRequest{}
	deadline := time.After(15 * time.Second)
	for n := 0; n < 5; n++ { // a, other ×2, strict, dead
		select {
		case ev := <-app.ch:
			byPath[ev.GetPath()] = append(byPath[ev.GetPath()], ev)
		case <-deadline:
			t.Fatalf("%d of 5 events received: %v", n, byPath)
		}
	}
	select {
	case ev := <-app.ch:
		t.Fatalf("unexpected event %v", ev)
	case <-time.After(1500 * time.Millisecond):
	}

	for path, n := range map[string]int{"/a": 1, "/other": 2, "/strict": 1, "/dead": 1} {
		if len(byPath[path]) != n {
			t.Errorf("%s: %d events, want %d", path, len(byPath[path]), n)
		}
	}
	if a := byPath["/a"]; len(a) == 1 {
		ev := a[0]
		if ev.GetId() == "" || ev.GetSource() != pubID || ev.GetType() != "com.dapr.event.sent" || ev.GetSpecVersion() != "1.0" ||
			ev.GetDataContentType() != "application/json" || ev.GetTopic() != orders || ev.GetPubsubName() != "pubsub" {
			t.Errorf("event fields %v", ev)
		}
		if !jsonEqual(t, string(ev.GetData()), `{"kind":"a","n":1}`) {
			t.Errorf("data %s", ev.GetData())
		}
		ext := ev.GetExtensions().GetFields()
		for _, k := range []string{"time", "traceparent", "topic", "pubsubname"} {
			if _, ok := ext[k]; !ok {
				t.Errorf("extensions lack %s: %v", k, ext)
			}
		}
		if _, ok := ext["id"]; ok {
			t.Errorf("extensions repeat id: %v", ext)
		}
	}
	if o := byPath["/other"]; len(o) == 2 && o[0].GetId() != o[1].GetId() {
		t.Errorf("redelivery has another id: %s, %s", o[0].GetId(), o[1].GetId())
	}
	st, dl := byPath["/strict"], byPath["/dead"]
	if len(st) == 1 && len(dl) == 1 {
		if st[0].GetId() != dl[0].GetId() || string(dl[0].GetData()) != "hello" || dl[0].GetDataContentType() != "text/plain" {
			t.Errorf("dead letter %v, original %v", dl[0], st[0])
		}
	}
}
