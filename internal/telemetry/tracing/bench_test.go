//go:build unix

package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/outrigger/outrigger/internal/testutil"
)

// discard is an exporter that drops spans, so the benchmarks measure the
// sidecar's side of tracing (spans, attributes, batching), not a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// apiHandler stands in for a small API call: read the body, answer JSON.
var apiHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"value":"v"}`))
})

// BenchmarkHTTPAPI is one HTTP API request over loopback (client and
// server in this process) with tracing off (no middleware), at sampling
// rate 0 (disabled provider), and at 1 (every request recorded). cpu-ns/op
// is process CPU time (user+system) per request.
func BenchmarkHTTPAPI(b *testing.B) {
	sampled := newProvider("bench", 1, sdktrace.NewBatchSpanProcessor(discard{}))
	defer func() { _ = sampled.Shutdown(context.Background()) }()
	cases := []struct {
		name        string
		handler     http.Handler
		traceparent string
	}{
		{"off", apiHandler, ""},
		{"rate0", (&Provider{}).HTTPMiddleware(apiHandler), ""},
		{"rate0-traceparent", (&Provider{}).HTTPMiddleware(apiHandler), sampledParent},
		{"rate1", sampled.HTTPMiddleware(apiHandler), ""},
		{"rate1-traceparent", sampled.HTTPMiddleware(apiHandler), sampledParent},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			client := srv.Client()
			url := srv.URL + "/v1.0/state/store/key"
			b.ReportAllocs()
			cpu := testutil.CPUTime()
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"k":"v"}`))
				if c.traceparent != "" {
					req.Header.Set("traceparent", c.traceparent)
				}
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(testutil.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkMiddleware is the middleware alone around an empty handler.
func BenchmarkMiddleware(b *testing.B) {
	sampled := newProvider("bench", 1, sdktrace.NewBatchSpanProcessor(discard{}))
	defer func() { _ = sampled.Shutdown(context.Background()) }()
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, c := range []struct {
		name string
		p    *Provider
	}{{"rate0", &Provider{}}, {"rate1", sampled}} {
		b.Run(c.name, func(b *testing.B) {
			h := c.p.HTTPMiddleware(noop)
			req := httptest.NewRequest(http.MethodGet, "/v1.0/state/store/key", nil)
			w := &headerWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// headerWriter is a ResponseWriter that keeps only the header.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(int)             {}

// BenchmarkGRPCInterceptor is the unary server interceptor alone.
func BenchmarkGRPCInterceptor(b *testing.B) {
	sampled := newProvider("bench", 1, sdktrace.NewBatchSpanProcessor(discard{}))
	defer func() { _ = sampled.Shutdown(context.Background()) }()
	info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"}
	next := func(context.Context, any) (any, error) { return nil, nil }
	ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{"content-type": {"application/grpc"}, "user-agent": {"x"}})
	for _, c := range []struct {
		name string
		p    *Provider
	}{{"rate0", &Provider{}}, {"rate1", sampled}} {
		b.Run(c.name, func(b *testing.B) {
			s := grpcServer{p: c.p, appID: "app"}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = s.unary(ctx, nil, info, next)
			}
		})
	}
}
