package tracing

import (
	"go.opentelemetry.io/otel/trace"
)

// The grpc-trace-bin format (OpenCensus binary propagation): a version
// byte (0), then fields each introduced by its id: 0 = trace id (16 bytes),
// 1 = span id (8 bytes), 2 = trace options (1 byte). Decoders stop at the
// first unknown field id, so newer writers may append fields.
const (
	binVersion     = 0
	binFieldTrace  = 0
	binFieldSpan   = 1
	binFieldOption = 2
	binLen         = 1 + 1 + 16 + 1 + 8 + 1 + 1
)

// EncodeBinary returns sc in grpc-trace-bin form; nil for an invalid
// context.
func EncodeBinary(sc trace.SpanContext) []byte {
	if !sc.IsValid() {
		return nil
	}
	b := make([]byte, binLen)
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0] = binVersion
	b[1] = binFieldTrace
	copy(b[2:18], tid[:])
	b[18] = binFieldSpan
	copy(b[19:27], sid[:])
	b[27] = binFieldOption
	b[28] = byte(sc.TraceFlags() & trace.FlagsSampled)
	return b
}

// DecodeBinary reads a grpc-trace-bin value. Trace and span ids are
// required; missing options mean "not sampled". ok is false for anything
// malformed or invalid.
func DecodeBinary(b []byte) (trace.SpanContext, bool) {
	if len(b) == 0 || b[0] != binVersion {
		return trace.SpanContext{}, false
	}
	var cfg trace.SpanContextConfig
	b = b[1:]
	if len(b) < 17 || b[0] != binFieldTrace {
		return trace.SpanContext{}, false
	}
	copy(cfg.TraceID[:], b[1:17])
	b = b[17:]
	if len(b) < 9 || b[0] != binFieldSpan {
		return trace.SpanContext{}, false
	}
	copy(cfg.SpanID[:], b[1:9])
	b = b[9:]
	if len(b) >= 2 && b[0] == binFieldOption {
		cfg.TraceFlags = trace.TraceFlags(b[1]) & trace.FlagsSampled
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	return sc, sc.IsValid()
}
