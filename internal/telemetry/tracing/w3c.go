package tracing

import (
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// Header and metadata names of the trace context.
const (
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
	// MetadataBinary is the gRPC binary trace context (OpenCensus format),
	// which Dapr reads before traceparent on gRPC calls.
	MetadataBinary = "grpc-trace-bin"
)

// ZeroTraceparent is what Dapr reports for a request that was not traced.
const ZeroTraceparent = "00-00000000000000000000000000000000-0000000000000000-00"

// traceparentLen is the length of a version-00 traceparent.
const traceparentLen = 55

// ParseTraceparent reads a W3C traceparent header. It accepts future
// versions (their extra fields are ignored) but rejects version ff, all-zero
// ids and malformed input; ok is false then. Only the sampled flag is kept.
func ParseTraceparent(s string) (sc trace.SpanContext, ok bool) {
	if len(s) < traceparentLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return trace.SpanContext{}, false
	}
	var ver [1]byte
	if !decodeLowerHex(ver[:], s[0:2]) || ver[0] == 0xff {
		return trace.SpanContext{}, false
	}
	// Version 00 has exactly four fields; later versions may append more.
	if len(s) > traceparentLen && (ver[0] == 0 || s[traceparentLen] != '-') {
		return trace.SpanContext{}, false
	}
	var cfg trace.SpanContextConfig
	var flags [1]byte
	if !decodeLowerHex(cfg.TraceID[:], s[3:35]) || !decodeLowerHex(cfg.SpanID[:], s[36:52]) || !decodeLowerHex(flags[:], s[53:55]) {
		return trace.SpanContext{}, false
	}
	cfg.TraceFlags = trace.TraceFlags(flags[0]) & trace.FlagsSampled
	cfg.Remote = true
	sc = trace.NewSpanContext(cfg)
	if !sc.IsValid() {
		return trace.SpanContext{}, false
	}
	return sc, true
}

// decodeLowerHex decodes lower-case hex only, as the W3C format requires.
func decodeLowerHex(dst []byte, s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// FormatTraceparent writes sc as a version-00 traceparent; an invalid
// context gives ZeroTraceparent.
func FormatTraceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ZeroTraceparent
	}
	var b [traceparentLen]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	return string(b[:])
}

// ParseTracestate reads a W3C tracestate header; a malformed one is
// dropped, as the W3C spec asks.
func ParseTracestate(s string) trace.TraceState {
	if s == "" {
		return trace.TraceState{}
	}
	ts, err := trace.ParseTraceState(s)
	if err != nil {
		return trace.TraceState{}
	}
	return ts
}

// FromW3C returns the remote span context of a traceparent/tracestate
// pair; ok is false when traceparent is missing or malformed.
func FromW3C(traceparent, tracestate string) (trace.SpanContext, bool) {
	sc, ok := ParseTraceparent(traceparent)
	if !ok {
		return sc, false
	}
	if tracestate != "" {
		sc = sc.WithTraceState(ParseTracestate(tracestate))
	}
	return sc, true
}
