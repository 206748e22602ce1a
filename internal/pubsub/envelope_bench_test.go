package pubsub

import "testing"

// benchPayload is what the load generator publishes: a small JSON object.
var benchPayload = []byte(`{"p":1,"n":123456,"t":1732199999123456789}`)

func BenchmarkNewEnvelope(b *testing.B) {
	req := EnvelopeRequest{Source: "bench", Topic: "orders", PubSub: "ps", ContentType: "application/json", Data: benchPayload,
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewEnvelope(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEnvelope(b *testing.B) {
	ce, err := NewEnvelope(EnvelopeRequest{Source: "bench", Topic: "orders", PubSub: "ps", ContentType: "application/json", Data: benchPayload})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEnvelope(ce); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanEnvelope(b *testing.B) {
	ce, err := NewEnvelope(EnvelopeRequest{Source: "bench", Topic: "orders", PubSub: "ps", ContentType: "application/json", Data: benchPayload})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanEnvelope(ce); err != nil {
			b.Fatal(err)
		}
	}
}
