package compat

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/compat/harness"
)

// order is the JSON payload the publish scenarios send.
type order struct {
	Marker string `json:"marker"`
	Kind   string `json:"kind,omitempty"`
	Qty    int    `json:"qty"`
	Note   string `json:"note,omitempty"`
}

// subEnv is what a subscriber scenario gets: a Go SDK client on the
// publisher's sidecar and the subscriber app behind its own sidecar.
type subEnv struct {
	pub      dapr.Client
	pubID    string
	protocol string // the subscriber app's protocol: http or grpc
	topics   subTopics
	in       *inbox
	// subMeta is a raw client on the subscriber's sidecar, for metadata.
	subMeta runtimev1.DaprClient
}

var subScenarios = []struct {
	name string
	run  func(t *testing.T, e *subEnv)
}{
	{"metadata", goSubMetadata},
	{"json", goPubJSON},
	{"json-bytes", goPubJSONBytes},
	{"text", goPubText},
	{"binary", goPubBinary},
	{"cloudevent", goPubCloudEvent},
	{"cloudevent-metadata", goPubCloudEventMetadata},
	{"bulk", goPubBulk},
	{"routing", goSubRouting},
	{"raw-payload", goSubRawPayload},
	{"retry-and-drop", goSubRetryAndDrop},
}

// TestGoSDKPubSub publishes with the Go SDK client through one sidecar and
// subscribes with apps written with the Go SDK's service/http and
// service/grpc packages, each behind its own sidecar; pubsub.redis
// connects them.
func TestGoSDKPubSub(t *testing.T) {
	prefix := topicPrefix(t)
	useRedis(t, prefix)
	run := uniq(t)
	pubID := "ps-pub-" + run
	pub := harness.Start(t, harness.Options{AppID: pubID, Components: []string{redisPubsub(pubID)}})
	c := goClient(t, pub)

	t.Run("publish-errors", func(t *testing.T) { goPubErrors(t, c, prefix) })
	for _, protocol := range []string{"http", "grpc"} {
		t.Run(protocol+"-app", func(t *testing.T) {
			t.Parallel()
			appID := "ps-" + protocol + "-sub-" + run
			e := &subEnv{pub: c, pubID: pubID, protocol: protocol, topics: newSubTopics(prefix + protocol + "-"), in: &inbox{}}
			port := startSubscriberApp(t, protocol, e.topics, e.in)
			sub := harness.Start(t, harness.Options{
				AppID: appID, AppPort: port, AppProtocol: protocol,
				Components: []string{redisPubsub(appID)},
			})
			e.subMeta = rawClient(t, sub)
			for _, s := range subScenarios {
				t.Run(s.name, func(t *testing.T) { s.run(t, e) })
			}
		})
	}
}

// goClient connects the Go SDK client to a sidecar's gRPC API.
func goClient(t *testing.T, sc *harness.Sidecar) dapr.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := dapr.NewClientWithAddressContext(ctx, sc.GRPCAddr())
	if err != nil {
		t.Fatalf("connect Go SDK to %s: %v", sc.GRPCAddr(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// rawClient is a plain generated client, for fields the SDK hides.
func rawClient(t *testing.T, sc *harness.Sidecar) runtimev1.DaprClient {
	t.Helper()
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", sc.GRPCAddr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	return runtimev1.NewDaprClient(conn)
}

// goSubMetadata checks the subscriber sidecar lists what the app's
// /dapr/subscribe (or ListTopicSubscriptions) declared. It also waits for
// the subscriptions to be active before the other scenarios publish.
func goSubMetadata(t *testing.T, e *subEnv) {
	for _, topic := range []string{e.topics.events, e.topics.retry, e.topics.drop, e.topics.dead, e.topics.raw} {
		subs := waitMetadataSubs(t, e.subMeta, topic, 1)
		if subs[0].GetType() != runtimev1.PubsubSubscriptionType_PROGRAMMATIC || subs[0].GetPubsubName() != pubsubName {
			t.Errorf("subscription of %s: type %v pubsub %q, want PROGRAMMATIC %q", topic, subs[0].GetType(), subs[0].GetPubsubName(), pubsubName)
		}
	}
	routed := waitMetadataSubs(t, e.subMeta, e.topics.routed, 1)[0]
	var rules [][2]string
	for _, r := range routed.GetRules().GetRules() {
		rules = append(rules, [2]string{r.GetMatch(), r.GetPath()})
	}
	// daprd lists the rules in order, then the default route as a rule
	// without a match.
	want := [][2]string{{routeBig, "/routed-big"}, {"", "/routed"}}
	if !slices.Equal(rules, want) {
		t.Errorf("rules of %s = %q, want %q", e.topics.routed, rules, want)
	}
	if dl := metadataSubs(t, e.subMeta, e.topics.drop)[0].GetDeadLetterTopic(); dl != e.topics.dead {
		t.Errorf("dead letter topic of %s = %q, want %q", e.topics.drop, dl, e.topics.dead)
	}
	raw := waitMetadataSubs(t, e.subMeta, e.topics.raw, 1)[0]
	if raw.GetMetadata()["rawPayload"] != "true" {
		t.Errorf("metadata of %s = %v, want rawPayload=true", e.topics.raw, raw.GetMetadata())
	}
}

func goPubJSON(t *testing.T, e *subEnv) {
	m := "json-" + uniq(t)
	in := order{Marker: m, Qty: 3, Note: "ünïcode ✓"}
	if err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, in); err != nil {
		t.Fatalf("PublishEvent(struct): %v", err)
	}
	want := map[string]any{"marker": m, "qty": 3.0, "note": "ünïcode ✓"}
	got := e.in.waitFor(t, "JSON event", 1, withMarker(m))[0]
	checkEvent(t, "JSON event", got.ev, wantEvent{
		source: e.pubID, typ: publisherType, contentType: "application/json",
		topic: e.topics.events, data: want, rawJSON: want,
	})
}

// goPubJSONBytes publishes bytes with JSON-ish and other content types.
func goPubJSONBytes(t *testing.T, e *subEnv) {
	m := uniq(t)
	xml := `<order marker="xml-` + m + `"/>`
	cases := []struct {
		name, contentType, body string
		data                    any
		httpRaw                 string // exact RawData for HTTP apps, when set
	}{
		// A charset parameter still means JSON. The envelope holds the
		// parsed value (object keys come out sorted, as Go encodes a
		// map) with its numbers exact.
		{"charset", "application/json; charset=utf-8", `{"marker":"charset-` + m + `","big":12345678901234567890}`,
			map[string]any{"marker": "charset-" + m, "big": 12345678901234567890.0},
			`{"big":12345678901234567890,"marker":"charset-` + m + `"}`},
		// JSON that does not parse travels as a string.
		{"invalid", "application/json", "not json { invalid-" + m, "not json { invalid-" + m, `"not json { invalid-` + m + `"`},
		// Other types travel as strings; the gRPC SDK hands them over as
		// bytes, the HTTP SDK as the string.
		{"xml", "application/xml", xml, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, []byte(tc.body),
				dapr.PublishEventWithContentType(tc.contentType))
			if err != nil {
				t.Fatalf("PublishEvent(%s): %v", tc.contentType, err)
			}
			marker := tc.name + "-" + m
			got := e.in.waitFor(t, tc.name+" event", 1, withMarker(marker))[0]
			want := wantEvent{source: e.pubID, typ: publisherType, contentType: tc.contentType, topic: e.topics.events, data: tc.data}
			if tc.name == "xml" {
				want.data = xml
				if e.protocol == "grpc" {
					want.data = []byte(xml)
				}
			}
			if e.protocol == "http" && tc.httpRaw != "" {
				want.raw = []byte(tc.httpRaw)
			}
			checkEvent(t, tc.name+" event", got.ev, want)
		})
	}
}

func goPubText(t *testing.T, e *subEnv) {
	cases := []struct {
		name, contentType, wantType string
		opts                        []dapr.PublishEventOption
	}{
		{"text-plain", "text/plain", "text/plain", []dapr.PublishEventOption{dapr.PublishEventWithContentType("text/plain")}},
		// No content type: daprd labels the data text/plain.
		{"no-content-type", "", "text/plain", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := "hello, pubsub " + uniq(t)
			if err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, []byte(text), tc.opts...); err != nil {
				t.Fatalf("PublishEvent([]byte, %q): %v", tc.contentType, err)
			}
			got := e.in.waitFor(t, "text event", 1, withMarker(text))[0]
			// The HTTP SDK keeps the JSON text of "data" (a quoted
			// string) as RawData; gRPC apps get the bytes.
			raw := []byte(text)
			if e.protocol == "http" {
				raw, _ = json.Marshal(text)
			}
			checkEvent(t, "text event", got.ev, wantEvent{
				source: e.pubID, typ: publisherType, contentType: tc.wantType,
				topic: e.topics.events, data: text, raw: raw,
			})
		})
	}
}

func goPubBinary(t *testing.T, e *subEnv) {
	m := "bin-" + uniq(t)
	payload := append([]byte{0x00, 0xff, 0x10, '"', 0x7f, ' '}, m...)
	err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, payload,
		dapr.PublishEventWithContentType("application/octet-stream"))
	if err != nil {
		t.Fatalf("PublishEvent(binary): %v", err)
	}
	got := e.in.waitFor(t, "binary event", 1, withMarker(m))[0]
	checkEvent(t, "binary event", got.ev, wantEvent{
		source: e.pubID, typ: publisherType, contentType: "application/octet-stream",
		topic: e.topics.events, data: payload, raw: payload,
	})
	// The envelope carries binary data as data_base64, which the HTTP
	// SDK also exposes.
	if e.protocol == "http" && got.ev.DataBase64 != base64.StdEncoding.EncodeToString(payload) {
		t.Errorf("binary event: DataBase64 = %q, want base64 of the payload", got.ev.DataBase64)
	}
}

// goPubCloudEvent publishes a ready CloudEvent: the sidecar keeps its
// attributes and overwrites topic and pubsubname.
func goPubCloudEvent(t *testing.T, e *subEnv) {
	m := "ce-" + uniq(t)
	ce := map[string]any{
		"specversion":     "1.0",
		"id":              "id-" + m,
		"source":          "compat/source",
		"type":            "compat.passthrough",
		"subject":         "compat-subject",
		"datacontenttype": "application/json",
		"topic":           "not-this-topic",
		"pubsubname":      "not-this-pubsub",
		"data":            map[string]any{"marker": m, "n": 1},
	}
	body, err := json.Marshal(ce)
	if err != nil {
		t.Fatalf("encode CloudEvent: %v", err)
	}
	err = e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, body,
		dapr.PublishEventWithContentType("application/cloudevents+json"))
	if err != nil {
		t.Fatalf("PublishEvent(CloudEvent): %v", err)
	}
	got := e.in.waitFor(t, "CloudEvent", 1, withMarker(m))[0]
	data := map[string]any{"marker": m, "n": 1.0}
	want := wantEvent{
		id: "id-" + m, source: "compat/source", typ: "compat.passthrough", contentType: "application/json",
		topic: e.topics.events, data: data, rawJSON: data,
	}
	if e.protocol == "http" {
		want.subject = "compat-subject"
	}
	checkEvent(t, "CloudEvent", got.ev, want)
}

// goPubCloudEventMetadata overrides envelope attributes with publish
// metadata.
func goPubCloudEventMetadata(t *testing.T, e *subEnv) {
	m := "md-" + uniq(t)
	md := map[string]string{
		"cloudevent.id":     "id-" + m,
		"cloudevent.source": "compat/md-source",
		"cloudevent.type":   "compat.md.type",
	}
	err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.events, order{Marker: m, Qty: 1},
		dapr.PublishEventWithMetadata(md))
	if err != nil {
		t.Fatalf("PublishEvent(metadata %v): %v", md, err)
	}
	got := e.in.waitFor(t, "event with CloudEvent metadata", 1, withMarker(m))[0]
	data := map[string]any{"marker": m, "qty": 1.0}
	checkEvent(t, "event with CloudEvent metadata", got.ev, wantEvent{
		id: "id-" + m, source: "compat/md-source", typ: "compat.md.type", contentType: "application/json",
		topic: e.topics.events, data: data, rawJSON: data,
	})
}

func goPubBulk(t *testing.T, e *subEnv) {
	m := "bulk-" + uniq(t)
	events := []any{
		dapr.PublishEventsEvent{EntryID: "e1", Data: []byte(`{"marker":"` + m + `-1"}`), ContentType: "application/json"},
		dapr.PublishEventsEvent{EntryID: "e2", Data: []byte("bulk text " + m + "-2"), ContentType: "text/plain"},
		order{Marker: m + "-3", Qty: 7},
		"bulk string " + m + "-4",
	}
	res := e.pub.PublishEvents(callCtx(t), pubsubName, e.topics.events, events)
	if res.Error != nil || len(res.FailedEvents) != 0 {
		t.Fatalf("PublishEvents: error %v, failed %v", res.Error, res.FailedEvents)
	}
	cases := []struct {
		marker, contentType string
		data                any
	}{
		{m + "-1", "application/json", map[string]any{"marker": m + "-1"}},
		{m + "-2", "text/plain", "bulk text " + m + "-2"},
		{m + "-3", "application/json", map[string]any{"marker": m + "-3", "qty": 7.0}},
		{m + "-4", "text/plain", "bulk string " + m + "-4"},
	}
	for _, tc := range cases {
		got := e.in.waitFor(t, "bulk entry "+tc.marker, 1, withMarker(tc.marker))[0]
		checkEvent(t, "bulk entry "+tc.marker, got.ev, wantEvent{
			source: e.pubID, typ: publisherType, contentType: tc.contentType,
			topic: e.topics.events, data: tc.data,
		})
	}
}

func goSubRouting(t *testing.T, e *subEnv) {
	m := "route-" + uniq(t)
	for _, o := range []order{{Marker: m + "-big", Kind: "big", Qty: 10}, {Marker: m + "-small", Kind: "small", Qty: 1}} {
		if err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.routed, o); err != nil {
			t.Fatalf("PublishEvent(%s): %v", o.Marker, err)
		}
	}
	for _, tc := range []struct{ marker, route string }{{m + "-big", "/routed-big"}, {m + "-small", "/routed"}} {
		got := e.in.waitFor(t, "routed event "+tc.marker, 1, withMarker(tc.marker))
		if len(got) != 1 || got[0].route != tc.route {
			t.Errorf("event %s delivered to %v, want once to %s", tc.marker, routesOf(got), tc.route)
		}
	}
}

func routesOf(rs []received) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.route)
	}
	return out
}

// goSubRawPayload publishes raw bytes to a rawPayload subscription: the
// subscriber's sidecar wraps them in a CloudEvent of its own.
func goSubRawPayload(t *testing.T, e *subEnv) {
	m := "raw-" + uniq(t)
	payload := []byte(`{"marker":"` + m + `"}`)
	err := e.pub.PublishEvent(callCtx(t), pubsubName, e.topics.raw, payload,
		dapr.PublishEventWithRawPayload(), dapr.PublishEventWithContentType("application/json"))
	if err != nil {
		t.Fatalf("PublishEvent(raw): %v", err)
	}
	got := e.in.waitFor(t, "raw event", 1, withMarker(m))[0]
	checkEvent(t, "raw event", got.ev, wantEvent{
		source: "Dapr", typ: publisherType, contentType: "application/octet-stream",
		topic: e.topics.raw, data: payload, raw: payload,
	})
}

// goSubRetryAndDrop: a handler returning retry=true gets the same event
// again; one returning retry=false (DROP) does not, and the event goes to
// the subscription's dead letter topic.
func goSubRetryAndDrop(t *testing.T, e *subEnv) {
	m := "again-" + uniq(t)
	for _, topic := range []string{e.topics.drop, e.topics.retry} {
		if err := e.pub.PublishEvent(callCtx(t), pubsubName, topic, order{Marker: m, Qty: 1}); err != nil {
			t.Fatalf("PublishEvent(%s): %v", topic, err)
		}
	}
	onRetry := func(r received) bool { return r.route == "/retry" && withMarker(m)(r) }
	got := e.in.waitFor(t, "redelivery after retry", 2, onRetry)
	if got[0].ev.ID != got[1].ev.ID || got[1].attempt != 2 {
		t.Errorf("retried event: deliveries %q #%d and %q #%d, want the same id twice", got[0].ev.ID, got[0].attempt, got[1].ev.ID, got[1].attempt)
	}
	time.Sleep(redeliveryQuiet)
	if n := len(e.in.matching(onRetry)); n != 2 {
		t.Errorf("retried event delivered %d times, want 2 (the second was acknowledged)", n)
	}
	dropped := e.in.matching(func(r received) bool { return r.route == "/drop" && withMarker(m)(r) })
	if len(dropped) != 1 {
		t.Fatalf("dropped event delivered %d times, want 1:\n%s", len(dropped), e.in.describe())
	}
	dead := e.in.waitFor(t, "dead letter", 1, func(r received) bool { return r.route == "/dead" && withMarker(m)(r) })
	// The dead letter is the original message: daprd republishes its
	// bytes. HTTP apps read the topic from those bytes (the original
	// topic); gRPC apps get the topic they subscribed to.
	topic := e.topics.dead
	if e.protocol == "http" {
		topic = e.topics.drop
	}
	data := map[string]any{"marker": m, "qty": 1.0}
	checkEvent(t, "dead letter", dead[0].ev, wantEvent{
		id: dropped[0].ev.ID, source: e.pubID, typ: publisherType, contentType: "application/json",
		topic: topic, data: data, rawJSON: data,
	})
}

// goPubErrors checks the errors the SDK surfaces for failed publishes.
func goPubErrors(t *testing.T, c dapr.Client, prefix string) {
	topic := prefix + "errors"
	err := c.PublishEvent(callCtx(t), "no-such-pubsub", topic, order{Marker: "x"})
	wantPubsubError(t, "PublishEvent(unknown pubsub)", err, codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND")

	events := []any{order{Marker: "a"}, "b"}
	res := c.PublishEvents(callCtx(t), "no-such-pubsub", topic, events)
	wantPubsubError(t, "PublishEvents(unknown pubsub)", res.Error, codes.InvalidArgument, "DAPR_PUBSUB_NOT_FOUND")
	if len(res.FailedEvents) != len(events) {
		t.Errorf("PublishEvents(unknown pubsub): %d failed events, want all %d", len(res.FailedEvents), len(events))
	}

	dup := []any{
		dapr.PublishEventsEvent{EntryID: "same", Data: []byte("1"), ContentType: "text/plain"},
		dapr.PublishEventsEvent{EntryID: "same", Data: []byte("2"), ContentType: "text/plain"},
	}
	res = c.PublishEvents(callCtx(t), pubsubName, topic, dup)
	wantPubsubError(t, "PublishEvents(duplicate entry ids)", res.Error, codes.InvalidArgument, "DAPR_PUBSUB_MARSHAL_EVENTS")
	if len(res.FailedEvents) != len(dup) {
		t.Errorf("PublishEvents(duplicate entry ids): %d failed events, want all %d", len(res.FailedEvents), len(dup))
	}
}

func wantPubsubError(t *testing.T, what string, err error, code codes.Code, reason string) {
	t.Helper()
	wantCode(t, what, err, code)
	st, ok := status.FromError(err)
	if !ok {
		return
	}
	if info := errorInfo(st); info == nil || info.GetReason() != reason {
		t.Errorf("%s: ErrorInfo %v, want reason %s", what, info, reason)
	}
}

func decodeJSON(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	return v, nil
}
