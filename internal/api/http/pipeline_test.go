package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
)

// TestHTTPPipelinePosition: the httpPipeline runs after the token check
// (unauthenticated requests never reach it) and before routing (a path it
// rewrites is routed as rewritten).
func TestHTTPPipelinePosition(t *testing.T) {
	core := api.New(api.Config{AppID: "myapp", Metadata: api.NewMetadata(api.MetadataInfo{AppID: "myapp", RuntimeVersion: "1.18.3"})})
	core.SetOutboundReady()
	core.SetReady()
	var seen atomic.Int32
	alias := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen.Add(1)
			if r.Header.Get("dapr-api-token") != "" {
				t.Error("the token header reached the pipeline")
			}
			if r.URL.Path == "/info" {
				r.URL.Path = "/v1.0/metadata"
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, APIToken: "secret", Pipeline: alias}))
	defer srv.Close()

	if r := do(t, srv, "GET", "/info", "", nil); r.status != http.StatusUnauthorized || seen.Load() != 0 {
		t.Fatalf("without token: %d, pipeline ran %d times; want 401 before the pipeline", r.status, seen.Load())
	}
	r := do(t, srv, "GET", "/info", "", map[string]string{"dapr-api-token": "secret"})
	if r.status != http.StatusOK || !strings.Contains(r.body, `"id":"myapp"`) || seen.Load() != 1 {
		t.Fatalf("rewritten route: %d %s (pipeline ran %d times)", r.status, r.body, seen.Load())
	}
}
