package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	daprhttp "github.com/dapr/go-sdk/service/http"

	"github.com/outrigger/outrigger/compat/harness"
)

const (
	// pubsubName is the component name every pub/sub scenario addresses.
	pubsubName = "pubsub"
	redisAddr  = "127.0.0.1:6379"
	// publisherType is the CloudEvent type daprd gives published events.
	publisherType = "com.dapr.event.sent"
	// deliveryTimeout bounds the wait for one expected delivery.
	deliveryTimeout = 10 * time.Second
	// redeliveryQuiet is how long a test waits to see that an acknowledged
	// or dropped message is not delivered again: several redelivery scans
	// (redeliverInterval 100ms) past the processingTimeout (500ms) that
	// redisPubsub sets.
	redeliveryQuiet = 800 * time.Millisecond
)

// redisPubsub renders pubsub.redis for one sidecar. Short redelivery
// settings make a message whose handler failed come back within a second
// instead of daprd's default 60s.
func redisPubsub(consumerID string) string {
	return harness.Component(pubsubName, "pubsub.redis", "v1", map[string]string{
		"redisHost":         redisAddr,
		"consumerID":        consumerID,
		"redeliverInterval": "100ms",
		"processingTimeout": "500ms",
	})
}

// localPubsub is the broker of single-sidecar scenarios. It is pubsub.redis
// until pubsub.in-memory is linked into the binary; then switch it to
// harness.Component(pubsubName, "pubsub.in-memory", "v1", nil).
func localPubsub(consumerID string) string {
	return redisPubsub(consumerID)
}

// useRedis skips (or fails in CI) without Redis and deletes the test's
// streams, all named prefix…, once its sidecars have stopped.
func useRedis(t *testing.T, prefix string) {
	t.Helper()
	harness.RequireService(t, "Redis", redisAddr)
	harness.RedisDeleteOnCleanup(t, redisAddr, prefix+"*")
}

// topicPrefix is a prefix unique to one test run, for topic names (and so
// Redis stream keys).
func topicPrefix(t *testing.T) string {
	return "compat-" + uniq(t) + "-"
}

// received is one delivery a subscriber saw.
type received struct {
	route   string
	attempt int // 1 for the first delivery of this event id on this route
	ev      *common.TopicEvent
}

// inbox records every delivery of a subscriber app.
type inbox struct {
	mu  sync.Mutex
	got []received
}

// add records a delivery and returns its attempt number.
func (in *inbox) add(route string, ev *common.TopicEvent) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 1
	for _, r := range in.got {
		if r.route == route && r.ev.ID == ev.ID {
			n++
		}
	}
	in.got = append(in.got, received{route: route, attempt: n, ev: ev})
	return n
}

// matching returns the deliveries for which keep is true.
func (in *inbox) matching(keep func(received) bool) []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []received
	for _, r := range in.got {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls until at least n deliveries match and returns them.
func (in *inbox) waitFor(t *testing.T, what string, n int, keep func(received) bool) []received {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		got := in.matching(keep)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d deliveries after %s; the app saw:\n%s", what, len(got), n, deliveryTimeout, in.describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (in *inbox) describe() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var b strings.Builder
	for _, r := range in.got {
		fmt.Fprintf(&b, "  %s #%d id=%q type=%q topic=%q contentType=%q raw=%q\n",
			r.route, r.attempt, r.ev.ID, r.ev.Type, r.ev.Topic, r.ev.DataContentType, r.ev.RawData)
	}
	if b.Len() == 0 {
		return "  nothing"
	}
	return b.String()
}

// withMarker keeps deliveries whose raw data contains marker.
func withMarker(marker string) func(received) bool {
	return func(r received) bool { return bytes.Contains(r.ev.RawData, []byte(marker)) }
}

// answer decides a handler's result from the delivery's attempt number.
type answer func(attempt int) (retry bool, err error)

var (
	errRetry = errors.New("compat: please retry")
	errDrop  = errors.New("compat: drop this")
)

func ack(int) (bool, error) { return false, nil }

// retryOnce asks for redelivery of the first attempt and acks the next.
func retryOnce(attempt int) (bool, error) {
	if attempt == 1 {
		return true, errRetry
	}
	return false, nil
}

// dropAlways fails without retry: the SDKs answer DROP.
func dropAlways(int) (bool, error) { return false, errDrop }

func (in *inbox) handler(route string, a answer) common.TopicEventHandler {
	return func(_ context.Context, ev *common.TopicEvent) (bool, error) {
		return a(in.add(route, ev))
	}
}

// subTopics are the topics a Go subscriber app subscribes to.
type subTopics struct {
	events, routed, retry, drop, dead, raw string
}

func newSubTopics(prefix string) subTopics {
	return subTopics{
		events: prefix + "events",
		routed: prefix + "routed",
		retry:  prefix + "retry",
		drop:   prefix + "drop",
		dead:   prefix + "dead",
		raw:    prefix + "raw",
	}
}

// routeBig is the CEL rule of the routed topic.
const routeBig = `event.data.kind == "big"`

// addSubscriptions registers the app's subscriptions with the SDK: one
// route per topic, and on the routed topic a rule plus a default route.
// What the drop route drops goes to the dead letter topic, which the app
// also subscribes to.
func addSubscriptions(t *testing.T, s common.Service, tp subTopics, in *inbox) {
	t.Helper()
	subs := []struct {
		sub common.Subscription
		a   answer
	}{
		{common.Subscription{Topic: tp.events, Route: "/events"}, ack},
		{common.Subscription{Topic: tp.routed, Route: "/routed-big", Match: routeBig, Priority: 1}, ack},
		{common.Subscription{Topic: tp.routed, Route: "/routed"}, ack},
		{common.Subscription{Topic: tp.retry, Route: "/retry"}, retryOnce},
		{common.Subscription{Topic: tp.drop, Route: "/drop", DeadLetterTopic: tp.dead}, dropAlways},
		{common.Subscription{Topic: tp.dead, Route: "/dead"}, ack},
		{common.Subscription{Topic: tp.raw, Route: "/raw", Metadata: map[string]string{"rawPayload": "true"}}, ack},
	}
	for _, s2 := range subs {
		sub := s2.sub
		sub.PubsubName = pubsubName
		if err := s.AddTopicEventHandler(&sub, in.handler(sub.Route, s2.a)); err != nil {
			t.Fatalf("AddTopicEventHandler(%s %s): %v", sub.Topic, sub.Route, err)
		}
	}
}

// startSubscriberApp runs a Go SDK service (service/http or service/grpc)
// with the subscriptions on a free port. Register it before its sidecar so
// it stops after it.
func startSubscriberApp(t *testing.T, protocol string, tp subTopics, in *inbox) int {
	t.Helper()
	var s common.Service
	var port int
	if protocol == "grpc" {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen for %s app: %v", protocol, err)
		}
		port = lis.Addr().(*net.TCPAddr).Port
		s = daprgrpc.NewServiceWithListener(lis)
	} else {
		// service/http listens itself: give it a port outside the
		// kernel's ephemeral range, which outgoing connections may take.
		port = harness.FreePort(t)
		s = daprhttp.NewService(harness.LoopbackAddr(port))
	}
	addSubscriptions(t, s, tp, in)
	served := make(chan error, 1)
	go func() { served <- s.Start() }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop %s app: %v", protocol, err)
		}
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("%s app: %v", protocol, err)
		}
	})
	return port
}

// wantEvent is what a subscriber must see of one event, field by field as
// the Go SDK exposes it.
type wantEvent struct {
	id          string // "" = any non-empty id
	source, typ string
	contentType string
	topic       string
	data        any
	raw         []byte // exact RawData, when set
	rawJSON     any    // RawData decoded as JSON, when set
	subject     string // HTTP apps only (gRPC carries it in extensions)
}

func checkEvent(t *testing.T, what string, got *common.TopicEvent, want wantEvent) {
	t.Helper()
	if want.id == "" && got.ID == "" || want.id != "" && got.ID != want.id {
		t.Errorf("%s: ID = %q, want %q (empty = any)", what, got.ID, want.id)
	}
	fields := []struct{ name, got, want string }{
		{"Source", got.Source, want.source},
		{"Type", got.Type, want.typ},
		{"SpecVersion", got.SpecVersion, "1.0"},
		{"DataContentType", got.DataContentType, want.contentType},
		{"Topic", got.Topic, want.topic},
		{"PubsubName", got.PubsubName, pubsubName},
		{"Subject", got.Subject, want.subject},
	}
	for _, f := range fields {
		if f.got != f.want {
			t.Errorf("%s: %s = %q, want %q", what, f.name, f.got, f.want)
		}
	}
	if !reflect.DeepEqual(got.Data, want.data) {
		t.Errorf("%s: Data = %#v, want %#v", what, got.Data, want.data)
	}
	if want.raw != nil && !bytes.Equal(got.RawData, want.raw) {
		t.Errorf("%s: RawData = %q, want %q", what, got.RawData, want.raw)
	}
	if want.rawJSON != nil {
		if v, err := decodeJSON(got.RawData); err != nil || !reflect.DeepEqual(v, want.rawJSON) {
			t.Errorf("%s: RawData = %q (%v), want JSON %#v", what, got.RawData, err, want.rawJSON)
		}
	}
}

// metadataSubs lists the sidecar's subscriptions of a topic as the raw
// GetMetadata answer has them (the Go SDK hides their type).
func metadataSubs(t *testing.T, c runtimev1.DaprClient, topic string) []*runtimev1.PubsubSubscription {
	t.Helper()
	md, err := c.GetMetadata(callCtx(t), &runtimev1.GetMetadataRequest{})
	if err != nil {
		t.Fatalf("GetMetadata: %v", err)
	}
	var out []*runtimev1.PubsubSubscription
	for _, s := range md.GetSubscriptions() {
		if s.GetTopic() == topic {
			out = append(out, s)
		}
	}
	return out
}

// waitMetadataSubs polls GetMetadata until the topic has n subscriptions.
func waitMetadataSubs(t *testing.T, c runtimev1.DaprClient, topic string, n int) []*runtimev1.PubsubSubscription {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for {
		subs := metadataSubs(t, c, topic)
		if len(subs) == n {
			return subs
		}
		if time.Now().After(deadline) {
			t.Fatalf("GetMetadata lists %d subscriptions of %s after %s, want %d: %v", len(subs), topic, deliveryTimeout, n, subs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
