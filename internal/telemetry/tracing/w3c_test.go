package tracing

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

const (
	sampledParent   = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	unsampledParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
)

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		sampled bool
	}{
		{"sampled", sampledParent, true, true},
		{"not sampled", unsampledParent, true, false},
		{"unknown flags keep only sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", true, true},
		{"future version with more fields", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true, true},
		{"version 00 with more fields", sampledParent + "-extra", false, false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false, false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false},
		{"zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false, false},
		{"all zero", ZeroTraceparent, false, false},
		{"short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false, false},
		{"bad separator", "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false},
		{"not hex", "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01", false, false},
		{"empty", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := ParseTraceparent(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if sc.IsSampled() != tt.sampled || !sc.IsRemote() {
				t.Errorf("sampled = %v remote = %v", sc.IsSampled(), sc.IsRemote())
			}
			if got := sc.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace id %s", got)
			}
			if got := sc.SpanID().String(); got != "00f067aa0ba902b7" {
				t.Errorf("span id %s", got)
			}
		})
	}
}

func TestFormatTraceparentRoundTrip(t *testing.T) {
	for _, in := range []string{sampledParent, unsampledParent} {
		sc, ok := ParseTraceparent(in)
		if !ok {
			t.Fatalf("%s did not parse", in)
		}
		if got := FormatTraceparent(sc); got != in {
			t.Errorf("FormatTraceparent = %s, want %s", got, in)
		}
	}
	if got := FormatTraceparent(trace.SpanContext{}); got != ZeroTraceparent {
		t.Errorf("invalid context formats as %s, want %s", got, ZeroTraceparent)
	}
}

func TestFromW3CTracestate(t *testing.T) {
	sc, ok := FromW3C(sampledParent, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
	if !ok {
		t.Fatal("not parsed")
	}
	if got := sc.TraceState().String(); got != "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" {
		t.Errorf("tracestate = %q", got)
	}
	sc, ok = FromW3C(sampledParent, "not a tracestate")
	if !ok || sc.TraceState().Len() != 0 {
		t.Errorf("a malformed tracestate must be dropped, keeping the traceparent: ok=%v ts=%q", ok, sc.TraceState())
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	for _, in := range []string{sampledParent, unsampledParent} {
		sc, _ := ParseTraceparent(in)
		b := EncodeBinary(sc)
		if len(b) != 29 {
			t.Fatalf("encoded %d bytes, want 29", len(b))
		}
		got, ok := DecodeBinary(b)
		if !ok || !got.Equal(sc) {
			t.Errorf("round trip of %s: ok=%v got %s", in, ok, FormatTraceparent(got))
		}
	}
	if EncodeBinary(trace.SpanContext{}) != nil {
		t.Error("an invalid context must encode to nothing")
	}
}

func TestDecodeBinary(t *testing.T) {
	tid := []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sid := []byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	full := bytes.Join([][]byte{{0, 0}, tid, {1}, sid, {2, 1}}, nil)
	tests := []struct {
		name string
		in   []byte
		want string // traceparent, "" for not ok
	}{
		{"full", full, sampledParent},
		{"no options", full[:27], unsampledParent},
		{"unknown trailing field", append(append([]byte{}, full...), 3, 9, 9), sampledParent},
		{"wrong version", append([]byte{1}, full[1:]...), ""},
		{"short trace id", full[:10], ""},
		{"missing span id", full[:18], ""},
		{"span field out of order", bytes.Join([][]byte{{0, 1}, sid, {0}, tid}, nil), ""},
		{"zero ids", make([]byte, 29), ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := DecodeBinary(tt.in)
			if tt.want == "" {
				if ok {
					t.Fatalf("decoded %s, want failure", FormatTraceparent(sc))
				}
				return
			}
			if !ok || FormatTraceparent(sc) != tt.want {
				t.Errorf("got %s (ok=%v), want %s", FormatTraceparent(sc), ok, tt.want)
			}
		})
	}
}
