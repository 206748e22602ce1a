package appchannel

import (
	"net/http"
	"testing"

	"github.com/outrigger/outrigger/internal/hopbyhop"
)

func TestHTTPHeaderName(t *testing.T) {
	nominated := hopbyhop.Nominated([]string{"close, X-Secret"})
	tests := []struct {
		key  string
		want string // "" = dropped
	}{
		{"x-custom", "X-Custom"},
		{"traceparent", "Traceparent"},
		{":authority", "Dapr-Authority"},
		{":method", ""},
		{"grpc-timeout", "Dapr-Grpc-Timeout"},
		{"grpc-trace-bin", ""},
		{"custom-bin", ""},
		{"connection", ""},
		{"keep-alive", ""},
		{"proxy-connection", ""},
		{"transfer-encoding", ""},
		{"x-secret", ""},
		{"dapr-app-id", ""},
		{"dapr-api-token", ""},
		{"content-type", ""},
		{"host", ""},
	}
	for _, tc := range tests {
		got, ok := httpHeaderName(tc.key, nominated)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("httpHeaderName(%q) = %q, %v; want %q", tc.key, got, ok, tc.want)
		}
	}
}

func TestGRPCMetadataKey(t *testing.T) {
	tests := []struct {
		key      string
		fromHTTP bool
		want     string // "" = dropped
	}{
		{"content-type", true, "dapr-content-type"},
		{"content-type", false, ""},
		{"host", true, "dapr-host"},
		{":authority", true, "dapr-authority"},
		{":authority", false, ""},
		{"x-custom", true, "x-custom"},
		{"x-custom", false, "x-custom"},
		{"grpc-timeout", false, ""},
		{"grpc-trace-bin", false, "grpc-trace-bin"},
		{"dapr-api-token", false, ""},
		{"dapr-app-id", true, ""},
		{"x~weird", true, ""},
		{"user-agent", false, ""},
		// As daprd 1.18.3 sends an HTTP caller's headers to a gRPC app.
		{"cookie", true, "dapr-cookie"},
		{"if-none-match", true, "dapr-if-none-match"},
		{"authorization", true, "authorization"},
		{"forwarded", true, "forwarded"},
		{"etag", true, "etag"},
		{"user-agent", true, ""},
		{"connection", true, ""},
	}
	for _, tc := range tests {
		got, ok := grpcMetadataKey(tc.key, tc.fromHTTP)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("grpcMetadataKey(%q, %v) = %q, %v; want %q", tc.key, tc.fromHTTP, got, ok, tc.want)
		}
	}
}

func TestHTTPHeaderToMetadata(t *testing.T) {
	h := http.Header{
		"Content-Type":      {"text/plain"},
		"Connection":        {"X-Conn-Only"},
		"X-Conn-Only":       {"1"},
		"Keep-Alive":        {"timeout=5"},
		"Transfer-Encoding": {"chunked"},
		"X-App":             {"a", "b"},
		"Set-Cookie":        {"k=v"},
	}
	m := httpHeaderToMetadata(h)
	want := map[string]int{"content-type": 1, "x-app": 2, "set-cookie": 1}
	if len(m) != len(want) {
		t.Fatalf("got keys %v, want %v", m, want)
	}
	for k, n := range want {
		if len(m[k].GetValues()) != n {
			t.Errorf("%s: %v", k, m[k].GetValues())
		}
	}
}
