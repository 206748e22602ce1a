package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an in-process OTLP/HTTP trace collector.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []receivedSpan
}

// receivedSpan is one exported span, ids in hex.
type receivedSpan struct {
	service, name, kind     string
	traceID, spanID, parent string
}

func (s receivedSpan) String() string {
	return fmt.Sprintf("%s %q %s trace=%s span=%s parent=%s", s.service, s.name, s.kind, s.traceID, s.spanID, s.parent)
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				o.spans = append(o.spans, receivedSpan{
					service: service, name: sp.GetName(), kind: strings.TrimPrefix(sp.GetKind().String(), "SPAN_KIND_"),
					traceID: hex.EncodeToString(sp.GetTraceId()), spanID: hex.EncodeToString(sp.GetSpanId()),
					parent: hex.EncodeToString(sp.GetParentSpanId()),
				})
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// find waits until a span of service with name and kind arrives.
func (o *otlpReceiver) find(t *testing.T, service, name string, kind tracepb.Span_SpanKind) receivedSpan {
	t.Helper()
	want := strings.TrimPrefix(kind.String(), "SPAN_KIND_")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		for _, s := range o.spans {
			if s.service == service && s.name == name && s.kind == want {
				o.mu.Unlock()
				return s
			}
		}
		o.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t.Fatalf("no %s span %q of %s among:\n%v", want, name, service, o.spans)
	return receivedSpan{}
}

// tracingApp is app B: /hello publishes an event through its sidecar,
// passing on the trace context it was called with, and /events is its
// subscription to that topic.
type tracingApp struct {
	daprPort            func() int
	topic               string
	mu                  sync.Mutex
	helloTP, deliveryTP string
	event               map[string]any
	delivered           chan struct{}
}

func (a *tracingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/dapr/subscribe":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `[{"pubsubname":"ps","topic":%q,"route":"/events"}]`, a.topic)
	case "/hello":
		a.mu.Lock()
		a.helloTP = r.Header.Get("traceparent")
		a.mu.Unlock()
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/v1.0/publish/ps/%s", a.daprPort(), a.topic), strings.NewReader(`{"order":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", r.Header.Get("traceparent"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		res.Body.Close()
		w.WriteHeader(res.StatusCode)
	case "/events":
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		a.mu.Lock()
		first := a.event == nil
		a.deliveryTP, a.event = r.Header.Get("traceparent"), ev
		a.mu.Unlock()
		if first {
			close(a.delivered)
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

// TestTracingOneTraceAcrossInvocationAndPubSub follows one trace: the
// caller (app A) → sidecar A → sidecar B → app B → publish → delivery to
// the subscriber, exported over OTLP/HTTP by both sidecars.
func TestTracingOneTraceAcrossInvocationAndPubSub(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httpApp(t, recv)

	var sidecarB *sidecar
	app := &tracingApp{topic: "traced-" + fmt.Sprint(time.Now().UnixNano()), delivered: make(chan struct{}),
		daprPort: func() int { return sidecarB.httpPort }}
	appPort := httpApp(t, app)

	internalA, internalB := freePort(t), freePort(t)
	cfgPath := staticConfig(t, map[string][]int{"tra": {internalA}, "trb": {internalB}})
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("  tracing:\n    samplingRate: \"1\"\n    otel:\n      endpointAddress: \"127.0.0.1:%d\"\n      isSecure: false\n      protocol: http\n", collector)...)
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	res := blkResources(t, blkComponent("ps", "pubsub.in-memory", nil))
	env := []string{"OTEL_BSP_SCHEDULE_DELAY=100"} // export promptly
	sidecars := startPeers(t,
		peer{appID: "tra", internal: internalA, config: cfgPath, env: env},
		peer{appID: "trb", internal: internalB, appPort: appPort, config: cfgPath, env: env, args: []string{"--resources-path", res}},
	)
	sidecarA := sidecars[0]
	sidecarB = sidecars[1]
	waitSubscribed(t, sidecarB, app.topic)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const rootSpan = "00f067aa0ba902b7"
	resp := call(t, http.MethodPost, sidecarA.url("/v1.0/invoke/trb/method/hello"), "", map[string]string{"traceparent": "00-" + traceID + "-" + rootSpan + "-01"})
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	select {
	case <-app.delivered:
	case <-time.After(20 * time.Second):
		t.Fatal("the event was not delivered")
	}

	callerSpan := recv.find(t, "tra", "CallLocal/trb/hello", tracepb.Span_SPAN_KIND_CLIENT)
	calleeSpan := recv.find(t, "trb", "CallLocal/trb/hello", tracepb.Span_SPAN_KIND_SERVER)
	publishAPI := recv.find(t, "trb", "/v1.0/publish/ps/"+app.topic, tracepb.Span_SPAN_KIND_CLIENT)
	producer := recv.find(t, "trb", "/v1.0/publish/ps/"+app.topic, tracepb.Span_SPAN_KIND_PRODUCER)
	consumer := recv.find(t, "trb", "pubsub/"+app.topic, tracepb.Span_SPAN_KIND_CONSUMER)

	chain := []struct {
		what   string
		span   receivedSpan
		parent string
	}{
		{"sidecar A", callerSpan, rootSpan},
		{"sidecar B", calleeSpan, callerSpan.spanID},
		{"publish API", publishAPI, calleeSpan.spanID},
		{"producer", producer, publishAPI.spanID},
		{"consumer", consumer, producer.spanID},
	}
	for _, c := range chain {
		if c.span.traceID != traceID || c.span.parent != c.parent {
			t.Errorf("%s span %v: want trace %s, parent %s", c.what, c.span, traceID, c.parent)
		}
	}

	if want := "00-" + traceID + "-" + callerSpan.spanID + "-01"; resp.header.Get("traceparent") != want {
		t.Errorf("sidecar A answered traceparent %q, want its span %s", resp.header.Get("traceparent"), want)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if want := "00-" + traceID + "-" + calleeSpan.spanID + "-01"; app.helloTP != want {
		t.Errorf("app B was called with traceparent %q, want sidecar B's span %s", app.helloTP, want)
	}
	if want := "00-" + traceID + "-" + producer.spanID + "-01"; app.event["traceparent"] != want || app.event["traceid"] != want {
		t.Errorf("CloudEvent traceparent %v traceid %v, want the producer span %s", app.event["traceparent"], app.event["traceid"], want)
	}
	if want := "00-" + traceID + "-" + consumer.spanID + "-01"; app.deliveryTP != want {
		t.Errorf("subscriber got traceparent %q, want the consumer span %s", app.deliveryTP, want)
	}
}

// waitSubscribed waits until the sidecar reports a subscription to topic.
func waitSubscribed(t *testing.T, s *sidecar, topic string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, sub := range subscriptionsOf(t, s) {
			if sub.Topic == topic {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no subscription to %s", topic)
}

// TestTracingSamplingZeroPassesContextThrough: with samplingRate "0" no
// span is exported, but the caller's trace context reaches the app, the
// CloudEvent and the subscriber unchanged.
func TestTracingSamplingZeroPassesContextThrough(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httpApp(t, recv)
	var sc *sidecar
	app := &tracingApp{topic: "untraced-" + fmt.Sprint(time.Now().UnixNano()), delivered: make(chan struct{}),
		daprPort: func() int { return sc.httpPort }}
	appPort := httpApp(t, app)
	dir := t.TempDir()
	writeFile(t, dir, "config.yaml", fmt.Sprintf("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: cfg\nspec:\n  tracing:\n    samplingRate: \"0\"\n    otel:\n      endpointAddress: \"127.0.0.1:%d\"\n      isSecure: false\n      protocol: http\n", collector))
	res := blkResources(t, blkComponent("ps", "pubsub.in-memory", nil))
	sc = startPeers(t, peer{appID: "trz", internal: freePort(t), appPort: appPort, config: dir + "/config.yaml",
		env: []string{"OTEL_BSP_SCHEDULE_DELAY=100"}, args: []string{"--resources-path", res}})[0]
	waitSubscribed(t, sc, app.topic)

	const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	resp := call(t, http.MethodPost, sc.url("/v1.0/invoke/trz/method/hello"), "", map[string]string{"traceparent": incoming})
	if resp.status != http.StatusNoContent && resp.status != http.StatusOK {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	select {
	case <-app.delivered:
	case <-time.After(20 * time.Second):
		t.Fatal("the event was not delivered")
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if app.helloTP != incoming || app.event["traceparent"] != incoming || app.deliveryTP != incoming {
		t.Errorf("app got %q, CloudEvent %v, subscriber %q; want %s everywhere", app.helloTP, app.event["traceparent"], app.deliveryTP, incoming)
	}
	if got := resp.header.Get("traceparent"); got != incoming {
		t.Errorf("response traceparent %q, want the incoming one", got)
	}
	// Nothing may be exported; give a wrongly enabled exporter time to send.
	time.Sleep(500 * time.Millisecond)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.spans) != 0 {
		t.Errorf("sampling 0 exported %v", recv.spans)
	}
}
