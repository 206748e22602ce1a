package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// StartPublish starts the producer span of one published event, named
// after the API span around it (as daprd does). Traceparent(ctx) then
// gives what the CloudEvent records.
func (p *Provider) StartPublish(ctx context.Context, pubsubName, topic string) (context.Context, trace.Span) {
	name := "pubsub/" + topic
	if n, ok := trace.SpanFromContext(ctx).(interface{ Name() string }); ok && n.Name() != "" {
		name = n.Name()
	}
	ctx, span := p.Start(ctx, name, trace.SpanKindProducer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrMessagingSystem, "pubsub"), attribute.String(attrMessagingDest, topic),
			attribute.String(attrMessagingDestKind, "topic"), attribute.String("messaging.pubsub", pubsubName))
	}
	return ctx, span
}

// StartDelivery starts the consumer span of one event delivered to the app
// ("pubsub/<topic>"), continuing the trace recorded in the CloudEvent.
func (p *Provider) StartDelivery(ctx context.Context, topic, traceparent, tracestate string) (context.Context, trace.Span) {
	sc, _ := FromW3C(traceparent, tracestate)
	ctx, span := p.StartRemote(ctx, sc, "pubsub/"+topic, trace.SpanKindConsumer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrMessagingSystem, "pubsub"), attribute.String(attrMessagingDest, topic),
			attribute.String(attrMessagingDestKind, "topic"))
	}
	return ctx, span
}

// StartInputBinding starts the span of one input-binding event delivered
// to the app ("bindings/<name>"), continuing a trace the component passed
// in the event metadata, if any.
func (p *Provider) StartInputBinding(ctx context.Context, name string, md map[string]string) (context.Context, trace.Span) {
	sc, _ := FromW3C(lookup(md, HeaderTraceparent), lookup(md, HeaderTracestate))
	ctx, span := p.StartRemote(ctx, sc, "bindings/"+name, trace.SpanKindServer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrDBSystem, "bindings"), attribute.String(attrDBName, name),
			attribute.String(attrRPCService, serviceDapr))
	}
	return ctx, span
}

// StartActorCall starts the client span of an actor call made by this
// sidecar ("CallActor/<type>/<method>"). The callee sidecar's span comes
// from GRPCServerOptions; the trace context reaches it through
// GRPCDialOptions and the app through WrapChannel.
func (p *Provider) StartActorCall(ctx context.Context, actorType, actorID, method string) (context.Context, trace.Span) {
	ctx, span := p.Start(ctx, "CallActor/"+actorType+"/"+method, trace.SpanKindClient)
	if span.IsRecording() {
		span.SetAttributes(attribute.String(attrRPCService, serviceInvocation), attribute.String(attrDaprActor, actorType+"."+actorID),
			attribute.String(attrNetPeerName, actorType+"."+actorID))
	}
	return ctx, span
}

// End ends a span started by this package, marking it failed when err is
// set. It is a no-op for spans that record nothing.
func End(span trace.Span, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// lookup finds key in md, ignoring case.
func lookup(md map[string]string, key string) string {
	if v, ok := md[key]; ok {
		return v
	}
	for k, v := range md {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}
