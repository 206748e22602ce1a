package tracing

import (
	"context"
	"io"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// captureChannel records the metadata of the last call.
type captureChannel struct {
	md map[string]*internalsv1.ListStringValue
}

func (c *captureChannel) Invoke(_ context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	c.md = req.Message.Metadata
	return &appchannel.Response{Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}}, Body: io.NopCloser(nil)}, nil
}
func (c *captureChannel) GRPCConn() *grpc.ClientConn { return nil }
func (c *captureChannel) Protocol() string           { return "http" }
func (c *captureChannel) Close() error               { return nil }

func appRequest() *appchannel.Request {
	return &appchannel.Request{Message: &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: "m"}}}
}

// TestPublishDeliveryChain follows one event: API span → producer span →
// CloudEvent → consumer span → header to the subscriber.
func TestPublishDeliveryChain(t *testing.T) {
	p, rec := recording(t, 1)
	api, apiSpan := p.Start(ContextWithRemote(context.Background(), mustParse(sampledParent)), "/v1.0/publish/ps/orders", trace.SpanKindClient)
	pctx, prod := p.StartPublish(api, "ps", "orders")
	tp, ts := Traceparent(pctx)
	End(prod, nil)
	apiSpan.End()

	ch := &captureChannel{}
	dctx, cons := p.StartDelivery(context.Background(), "orders", tp, ts)
	if _, err := WrapChannel(ch).Invoke(dctx, appRequest()); err != nil {
		t.Fatal(err)
	}
	End(cons, nil)

	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	byName := map[string]trace.SpanContext{}
	for _, s := range spans {
		byName[s.Name()+"/"+s.SpanKind().String()] = s.SpanContext()
	}
	producer, consumer := spans[0], spans[2]
	if producer.Name() != "/v1.0/publish/ps/orders" || producer.SpanKind() != trace.SpanKindProducer || producer.Parent().SpanID() != spans[1].SpanContext().SpanID() {
		t.Errorf("producer %q kind %v parent %s", producer.Name(), producer.SpanKind(), producer.Parent().SpanID())
	}
	if tp != FormatTraceparent(producer.SpanContext()) {
		t.Errorf("CloudEvent traceparent %s, want the producer span's", tp)
	}
	if consumer.Name() != "pubsub/orders" || consumer.SpanKind() != trace.SpanKindConsumer || consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Errorf("consumer %q kind %v parent %s", consumer.Name(), consumer.SpanKind(), consumer.Parent().SpanID())
	}
	if consumer.SpanContext().TraceID() != mustParse(sampledParent).TraceID() {
		t.Error("the whole chain shares the caller's trace id")
	}
	if got := ch.md[HeaderTraceparent].GetValues(); len(got) != 1 || got[0] != FormatTraceparent(consumer.SpanContext()) {
		t.Errorf("subscriber got traceparent %v, want the consumer span's", got)
	}
}

// TestSamplingZeroPassesThrough: a disabled provider records nothing but
// hands the incoming context on unchanged everywhere.
func TestSamplingZeroPassesThrough(t *testing.T) {
	p, err := New(context.Background(), Config{SamplingRate: 0, ZipkinEndpoint: "http://127.0.0.1:1/api/v2/spans"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Fatal("sampling rate 0 must disable tracing")
	}
	in := ContextWithRemote(context.Background(), mustParse(sampledParent))
	ctx, span := p.StartPublish(in, "ps", "t")
	if span.IsRecording() {
		t.Error("nothing is recorded")
	}
	if tp, _ := Traceparent(ctx); tp != sampledParent {
		t.Errorf("CloudEvent traceparent %s, want the incoming one", tp)
	}
	dctx, _ := p.StartDelivery(context.Background(), "t", sampledParent, "")
	ch := &captureChannel{}
	_, _ = WrapChannel(ch).Invoke(dctx, appRequest())
	if got := ch.md[HeaderTraceparent].GetValues(); len(got) != 1 || got[0] != sampledParent {
		t.Errorf("app got %v, want the event's traceparent unchanged", got)
	}
	if tp, _ := Traceparent(must(p.StartDelivery(context.Background(), "t", "", ""))); tp != "" {
		t.Errorf("an untraced event stays untraced, got %s", tp)
	}
	bctx, _ := p.StartInputBinding(context.Background(), "b", map[string]string{"TraceParent": sampledParent})
	if FormatTraceparent(SpanContext(bctx)) != sampledParent {
		t.Error("input binding metadata context must flow on")
	}
}

func TestNewWithoutExporterIsDisabled(t *testing.T) {
	p, err := New(context.Background(), Config{SamplingRate: 1}, nil)
	if err != nil || p.Enabled() {
		t.Errorf("no exporter: enabled=%v err=%v, want disabled", p.Enabled(), err)
	}
	p, err = New(context.Background(), Config{SamplingRate: 0.5, OTLP: OTLPConfig{Endpoint: "127.0.0.1:1", Protocol: "grpc", Insecure: true}}, nil)
	if err != nil || !p.Enabled() {
		t.Fatalf("OTLP gRPC: enabled=%v err=%v", p.Enabled(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	_ = p.Shutdown(ctx) // nothing buffered; must not hang
}

func mustParse(s string) trace.SpanContext {
	sc, ok := ParseTraceparent(s)
	if !ok {
		panic(s)
	}
	return sc
}

func must(ctx context.Context, _ trace.Span) context.Context { return ctx }
