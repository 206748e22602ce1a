package tracing

import (
	"context"
	"encoding/base64"
	"net/http"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// ContextWithRemote returns ctx with sc as the remote parent of the next
// span; ctx itself when sc is invalid.
func ContextWithRemote(ctx context.Context, sc trace.SpanContext) context.Context {
	if !sc.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// SpanContext is the trace context carried by ctx: the current span's, or
// the remote parent's.
func SpanContext(ctx context.Context) trace.SpanContext {
	return trace.SpanContextFromContext(ctx)
}

// ExtractHTTP returns ctx carrying the traceparent/tracestate of h.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	tp := headerValue(h, canonicalTraceparent)
	if tp == "" {
		return ctx
	}
	sc, ok := FromW3C(tp, headerValue(h, canonicalTracestate))
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// Canonical header keys, looked up directly: http.Header.Get would
// canonicalise the lower-case names on every request.
const (
	canonicalTraceparent = "Traceparent"
	canonicalTracestate  = "Tracestate"
)

func headerValue(h http.Header, canonical string) string {
	if v := h[canonical]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// FromGRPC reads the trace context of gRPC metadata: grpc-trace-bin first,
// then traceparent/tracestate (what W3C-only clients send).
func FromGRPC(md metadata.MD) (trace.SpanContext, bool) {
	return fromMetadata(func(k string) []string { return md[k] })
}

func fromMetadata(get func(key string) []string) (trace.SpanContext, bool) {
	// tracestate is only looked up beside a trace header: most calls carry
	// none, and on the gRPC server each missing key costs a scan of all
	// the call's metadata.
	if v := get(MetadataBinary); len(v) > 0 {
		if sc, ok := DecodeBinary([]byte(v[0])); ok {
			if ts := firstValue(get(HeaderTracestate)); ts != "" {
				sc = sc.WithTraceState(ParseTracestate(ts))
			}
			return sc, true
		}
	}
	if v := get(HeaderTraceparent); len(v) > 0 {
		return FromW3C(v[0], firstValue(get(HeaderTracestate)))
	}
	return trace.SpanContext{}, false
}

func firstValue(v []string) string {
	if len(v) > 0 {
		return v[0]
	}
	return ""
}

// ExtractGRPC returns ctx carrying the trace context of its incoming gRPC
// metadata. It looks the keys up one by one: copying the whole metadata
// (metadata.FromIncomingContext) would cost every call.
func ExtractGRPC(ctx context.Context) context.Context {
	sc, ok := fromMetadata(func(k string) []string { return metadata.ValueFromIncomingContext(ctx, k) })
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// InjectHTTP sets traceparent (and tracestate) on h from ctx; nothing when
// ctx carries no trace.
func InjectHTTP(ctx context.Context, h http.Header) {
	sc := SpanContext(ctx)
	if !sc.IsValid() {
		return
	}
	h.Set(HeaderTraceparent, FormatTraceparent(sc))
	if ts := sc.TraceState().String(); ts != "" {
		h.Set(HeaderTracestate, ts)
	} else {
		h.Del(HeaderTracestate)
	}
}

// InjectGRPC sets grpc-trace-bin, traceparent and tracestate on md from
// ctx; nothing when ctx carries no trace.
func InjectGRPC(ctx context.Context, md metadata.MD) {
	sc := SpanContext(ctx)
	if !sc.IsValid() {
		return
	}
	md[MetadataBinary] = []string{string(EncodeBinary(sc))}
	md[HeaderTraceparent] = []string{FormatTraceparent(sc)}
	if ts := sc.TraceState().String(); ts != "" {
		md[HeaderTracestate] = []string{ts}
	} else {
		delete(md, HeaderTracestate)
	}
}

// InjectMetadata sets the trace context of ctx on an app-channel request's
// metadata: traceparent and tracestate (HTTP apps get them as headers), and
// grpc-trace-bin, base64-encoded as binary values travel in Dapr's
// internal metadata (gRPC apps get it decoded; HTTP apps never see -bin
// keys). Nothing changes when ctx carries no trace.
func InjectMetadata(ctx context.Context, md map[string]*internalsv1.ListStringValue) {
	sc := SpanContext(ctx)
	if !sc.IsValid() || md == nil {
		return
	}
	md[HeaderTraceparent] = &internalsv1.ListStringValue{Values: []string{FormatTraceparent(sc)}}
	md[MetadataBinary] = &internalsv1.ListStringValue{Values: []string{base64.StdEncoding.EncodeToString(EncodeBinary(sc))}}
	if ts := sc.TraceState().String(); ts != "" {
		md[HeaderTracestate] = &internalsv1.ListStringValue{Values: []string{ts}}
	} else {
		delete(md, HeaderTracestate)
	}
}

// Traceparent returns the traceparent and tracestate of ctx, both empty
// when ctx carries no trace (what a CloudEvent records then).
func Traceparent(ctx context.Context) (traceparent, tracestate string) {
	sc := SpanContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return FormatTraceparent(sc), sc.TraceState().String()
}
