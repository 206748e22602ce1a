package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// The benchmarks measure what metrics add to one API request: compare the
// "off" and "on" variants (ns/op and allocs/op). The handlers do nothing,
// so the figures are the middleware's own cost.

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchHTTP(b *testing.B, m *Metrics, path string) {
	h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	req := httptest.NewRequest("GET", path, nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.ServeHTTP(w, req)
	}
}

func BenchmarkHTTPMiddleware(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchHTTP(b, nil, "/v1.0/state/store/key") })
	b.Run("on", func(b *testing.B) { benchHTTP(b, newTest(b, resources.MetricSpec{}), "/v1.0/state/store/key") })
	b.Run("on/low-cardinality", func(b *testing.B) {
		benchHTTP(b, newTest(b, resources.MetricSpec{HTTP: &resources.MetricHTTP{IncreasedCardinality: ptr(false)}}), "/v1.0/state/store/key")
	})
	b.Run("on/path-matching", func(b *testing.B) {
		benchHTTP(b, newTest(b, resources.MetricSpec{HTTP: &resources.MetricHTTP{PathMatching: []string{"/v1.0/state/{store}/{key}"}}}), "/v1.0/state/store/key")
	})
}

func benchGRPC(b *testing.B, m *Metrics) {
	// The interceptor chain the server builds from the options.
	var intercept grpc.UnaryServerInterceptor = func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		return next(ctx, req)
	}
	if m != nil {
		intercept = m.unaryServer
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"}
	req, resp := wrapperspb.String("key"), wrapperspb.String(`{"value":42}`)
	handler := func(context.Context, any) (any, error) { return resp, nil }
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, _ = intercept(ctx, req, info, handler)
	}
}

func BenchmarkGRPCServerInterceptor(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchGRPC(b, nil) })
	b.Run("on", func(b *testing.B) { benchGRPC(b, newTest(b, resources.MetricSpec{})) })
}

func BenchmarkComponentCalled(b *testing.B) {
	for _, tc := range []struct {
		name string
		m    *Metrics
	}{{"off", nil}, {"on", newTest(b, resources.MetricSpec{})}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				start := tc.m.Start()
				tc.m.ComponentCalled(KindState, "store", OpGet, nil, start)
			}
		})
	}
}

// BenchmarkServiceInvocation is what metrics add to one service invocation
// of the local app over HTTP: the invoker's dapr_runtime_service_invocation_*
// series and the app channel's dapr_http_client_* series (the fake channel
// answers at once, so the figures are the wrappers' own cost, including
// the response allocation both variants make).
func BenchmarkServiceInvocation(b *testing.B) {
	for _, tc := range []struct {
		name string
		m    *Metrics
	}{{"off", nil}, {"on", newTest(b, resources.MetricSpec{})}} {
		b.Run(tc.name, func(b *testing.B) {
			inv := tc.m.WrapInvoker(fakeInvoker{&fakeChannel{protocol: "http", code: 200, body: `{"ok":true}`}})
			ch := tc.m.WrapAppChannel(&fakeChannel{protocol: "http", code: 200, body: `{"ok":true}`})
			ctx := context.Background()
			req := appRequest(commonv1.HTTPExtension_POST, "echo", "")
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := inv.Invoke(ctx, "bench", req); err != nil {
					b.Fatal(err)
				}
				resp, err := ch.Invoke(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				_ = resp.Body.Close()
			}
		})
	}
}

// BenchmarkResiliencyExecuted is dapr_resiliency_count for one call under
// a timeout and a retry policy.
func BenchmarkResiliencyExecuted(b *testing.B) {
	obs := newTest(b, resources.MetricSpec{}).ResiliencyObserver()
	t := resiliency.Target{Type: resiliency.TargetComponent, Name: "statestore", ComponentKind: resiliency.Statestore, Direction: resiliency.Outbound}
	b.ReportAllocs()
	for b.Loop() {
		obs.PolicyExecuted(t, resiliency.KindTimeout)
		obs.PolicyExecuted(t, resiliency.KindRetry)
	}
}
