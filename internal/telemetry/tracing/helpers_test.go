package tracing

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// recording returns an enabled provider that keeps finished spans in
// memory.
func recording(t *testing.T, rate float64) (*Provider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	p := newProvider("app", rate, rec)
	t.Cleanup(func() { _ = p.Shutdown(t.Context()) })
	return p, rec
}

// attr returns a string attribute of a finished span.
func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}
