package tracing

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/metadata"
)

func TestExtractInjectHTTP(t *testing.T) {
	in := http.Header{}
	in.Set("traceparent", sampledParent)
	in.Set("tracestate", "a=1")
	ctx := ExtractHTTP(context.Background(), in)
	out := http.Header{}
	InjectHTTP(ctx, out)
	if out.Get("traceparent") != sampledParent || out.Get("tracestate") != "a=1" {
		t.Errorf("injected %v, want the extracted context unchanged", out)
	}

	empty := http.Header{}
	InjectHTTP(ExtractHTTP(context.Background(), http.Header{"Traceparent": {"garbage"}}), empty)
	if len(empty) != 0 {
		t.Errorf("a malformed traceparent must not propagate: %v", empty)
	}
}

func TestFromGRPCPrefersBinary(t *testing.T) {
	bin, _ := ParseTraceparent("00-11111111111111111111111111111111-2222222222222222-01")
	md := metadata.MD{
		MetadataBinary:    {string(EncodeBinary(bin))},
		HeaderTraceparent: {sampledParent},
		HeaderTracestate:  {"k=v"},
	}
	sc, ok := FromGRPC(md)
	if !ok || sc.TraceID() != bin.TraceID() || sc.TraceState().String() != "k=v" {
		t.Errorf("got %s ts=%q ok=%v, want grpc-trace-bin's context with the tracestate", FormatTraceparent(sc), sc.TraceState(), ok)
	}
	delete(md, MetadataBinary)
	sc, ok = FromGRPC(md)
	if !ok || FormatTraceparent(sc) != sampledParent {
		t.Errorf("without grpc-trace-bin: got %s, want traceparent %s", FormatTraceparent(sc), sampledParent)
	}
	if _, ok := FromGRPC(metadata.MD{}); ok {
		t.Error("empty metadata carries no trace")
	}
}

func TestInjectGRPCAndMetadata(t *testing.T) {
	sc, _ := FromW3C(sampledParent, "k=v")
	ctx := ContextWithRemote(context.Background(), sc)

	md := metadata.MD{}
	InjectGRPC(ctx, md)
	got, ok := DecodeBinary([]byte(md[MetadataBinary][0]))
	if !ok || got.TraceID() != sc.TraceID() || md[HeaderTraceparent][0] != sampledParent || md[HeaderTracestate][0] != "k=v" {
		t.Errorf("gRPC metadata %v", md)
	}

	imd := map[string]*internalsv1.ListStringValue{
		HeaderTraceparent: {Values: []string{unsampledParent}}, // the caller's, replaced
	}
	InjectMetadata(ctx, imd)
	raw, err := base64.StdEncoding.DecodeString(imd[MetadataBinary].GetValues()[0])
	if err != nil {
		t.Fatal(err)
	}
	if bsc, ok := DecodeBinary(raw); !ok || !bsc.Equal(sc.WithTraceState(bsc.TraceState())) {
		t.Errorf("grpc-trace-bin in metadata decodes to %s", FormatTraceparent(bsc))
	}
	if imd[HeaderTraceparent].GetValues()[0] != sampledParent || imd[HeaderTracestate].GetValues()[0] != "k=v" {
		t.Errorf("metadata %v", imd)
	}

	untouched := map[string]*internalsv1.ListStringValue{HeaderTraceparent: {Values: []string{unsampledParent}}}
	InjectMetadata(context.Background(), untouched)
	if len(untouched) != 1 || untouched[HeaderTraceparent].GetValues()[0] != unsampledParent {
		t.Errorf("without a trace the caller's metadata must stay: %v", untouched)
	}
}

func TestTraceparentForCloudEvent(t *testing.T) {
	if tp, ts := Traceparent(context.Background()); tp != "" || ts != "" {
		t.Errorf("no trace: got %q %q, want empty", tp, ts)
	}
	sc, _ := FromW3C(sampledParent, "k=v")
	if tp, ts := Traceparent(ContextWithRemote(context.Background(), sc)); tp != sampledParent || ts != "k=v" {
		t.Errorf("got %q %q", tp, ts)
	}
}
