package appchannel

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
)

// BenchmarkHTTPInvoke measures the app-call hot path over keep-alive
// connections (the app side is included in the figures).
func BenchmarkHTTPInvoke(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	ch := newChannelFor(b, srv, Config{AppAPIToken: "t"})
	md := map[string][]string{"traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "x-custom": {"v"}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := newTestRequest("orders", commonv1.HTTPExtension_POST, "a=1", "application/json", md, strings.NewReader(`{"id":1}`))
			resp, err := ch.Invoke(context.Background(), req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
