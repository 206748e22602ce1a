package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The handler's own cost per request, without the network: the part of the
// sidecar hop that Outrigger controls.
func BenchmarkHandlerGetState(b *testing.B) {
	srv := newServer(b, "", 0, true)
	h := srv.Config.Handler
	save := httptest.NewRequest("POST", "/v1.0/state/store", strings.NewReader(`[{"key":"k","value":{"n":1}}]`))
	h.ServeHTTP(httptest.NewRecorder(), save)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/v1.0/state/store/k", nil))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkHandlerSaveState(b *testing.B) {
	srv := newServer(b, "", 0, true)
	h := srv.Config.Handler
	body := `[{"key":"k","value":{"item":"tea","qty":2,"note":"a value of about a hundred bytes in total, like the load test"}}]`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/v1.0/state/store", strings.NewReader(body)))
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
