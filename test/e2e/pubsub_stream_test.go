package e2e

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestPubsubStreaming subscribes with SubscribeTopicEventsAlpha1 on a
// sidecar without an app: events arrive on the stream, acknowledgements
// are honoured (a RETRY comes back, SUCCESS does not), and the
// subscription is listed as STREAMING while the stream is open.
func TestPubsubStreaming(t *testing.T) {
	env := newEnv(t, redisBroker)
	topic := env.topic("stream")
	appID := env.appID("streamer")
	s := startSidecars(t, env.peer(appID, env.resources(nil), 0))[0]

	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := runtimev1.NewDaprClient(conn).SubscribeTopicEventsAlpha1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	initial := &runtimev1.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: "pubsub", Topic: topic}
	if err := stream.Send(&runtimev1.SubscribeTopicEventsRequestAlpha1{
		SubscribeTopicEventsRequestType: &runtimev1.SubscribeTopicEventsRequestAlpha1_InitialRequest{InitialRequest: initial},
	}); err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.GetInitialResponse() == nil {
		t.Fatalf("first message %v, %v; want initial_response", first, err)
	}
	events := make(chan *runtimev1.TopicEventRequest, 16)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				close(events)
				return
			}
			events <- m.GetEventMessage()
		}
	}()

	if subs := streamingSubs(t, s, topic); len(subs) != 1 || subs[0].PubsubName != "pubsub" {
		t.Fatalf("metadata subscriptions while streaming: %+v", subscriptionsOf(t, s))
	}

	for n := range 3 {
		mustPublish(t, s, "pubsub", topic, "application/json", fmt.Sprintf(`{"n":%d}`, n))
	}
	ack := func(id string, st runtimev1.TopicEventResponse_TopicEventResponseStatus) {
		t.Helper()
		err := stream.Send(&runtimev1.SubscribeTopicEventsRequestAlpha1{
			SubscribeTopicEventsRequestType: &runtimev1.SubscribeTopicEventsRequestAlpha1_EventProcessed{
				EventProcessed: &runtimev1.SubscribeTopicEventsRequestProcessedAlpha1{Id: id, Status: &runtimev1.TopicEventResponse{Status: st}},
			},
		})
		if err != nil {
			t.Fatalf("sending event_processed: %v", err)
		}
	}
	times := map[string]int{}
	var retried string
	for len(times) < 3 || times[retried] < 2 {
		ev := nextEvent(t, events, 15*time.Second)
		times[ev.GetId()]++
		if ev.GetTopic() != topic || ev.GetPubsubName() != "pubsub" || ev.GetSource() != appID ||
			ev.GetType() != "com.dapr.event.sent" || ev.GetSpecVersion() != "1.0" || ev.GetDataContentType() != "application/json" {
			t.Errorf("event %v", ev)
		}
		n := decodeJSON(t, ev.GetData())["n"]
		if fmt.Sprint(n) == "2" && times[ev.GetId()] == 1 {
			retried = ev.GetId()
			ack(ev.GetId(), runtimev1.TopicEventResponse_RETRY)
			continue
		}
		ack(ev.GetId(), runtimev1.TopicEventResponse_SUCCESS)
	}
	select {
	case ev := <-events:
		t.Fatalf("unexpected event after all were acknowledged: %v", ev)
	case <-time.After(1500 * time.Millisecond):
	}
	if len(times) != 3 || times[retried] != 2 {
		t.Errorf("deliveries per id %v (retried %s)", times, retried)
	}

	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recvErr:
		if err != io.EOF {
			t.Errorf("stream ended with %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end after CloseSend")
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(streamingSubs(t, s, topic)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("STREAMING subscription still listed after the stream ended: %+v", subscriptionsOf(t, s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamingSubs(t *testing.T, s *sidecar, topic string) []metadataSubscription {
	t.Helper()
	var out []metadataSubscription
	for _, m := range subscriptionsOf(t, s) {
		if m.Topic == topic && m.Type == "STREAMING" {
			out = append(out, m)
		}
	}
	return out
}

func nextEvent(t *testing.T, events <-chan *runtimev1.TopicEventRequest, timeout time.Duration) *runtimev1.TopicEventRequest {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(timeout):
		t.Fatal("no event on the stream in time")
	}
	return nil
}
