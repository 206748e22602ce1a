package http_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outrigger/outrigger/internal/actors/actorstest"
	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
)

// BenchmarkActorInvokeHTTP measures an actor call through the HTTP API
// handler and the runtime to an app that answers at once (no network).
func BenchmarkActorInvokeHTTP(b *testing.B) {
	rt := actorstest.New(b, actorstest.Options{})
	h := apihttp.New(apihttp.Config{Core: api.New(api.Config{AppID: "myapp", Actors: rt})})
	paths := make([]string, 1000)
	for i := range paths {
		paths[i] = "/v1.0/actors/myactor/" + strconv.Itoa(i) + "/method/echo"
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := paths[next.Add(1)%uint64(len(paths))]
			req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(`{"n":1}`))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
