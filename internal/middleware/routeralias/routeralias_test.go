package routeralias

import (
	"context"
	"net/http"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

func TestRouterAlias(t *testing.T) {
	tests := []struct {
		name   string
		routes string
		path   string
		want   string
	}{
		{"json literal keeps the query", `{"/mall/activity/info": "/v1.0/invoke/srv.default/method/mall/activity/info"}`,
			"/mall/activity/info?id=123", "GET /v1.0/invoke/srv.default/method/mall/activity/info?id=123|"},
		{"template variable becomes a query parameter", `{"/hello/activity/{id}/info": "/v1.0/invoke/srv/method/info"}`,
			"/hello/activity/42/info?x=1", "GET /v1.0/invoke/srv/method/info?id=42&x=1|"},
		{"yaml with a regex variable", "/user/{uid:[0-9]+}: /v1.0/invoke/users/method/get\n",
			"/user/77", "GET /v1.0/invoke/users/method/get?uid=77|"},
		{"regex variable must match", "/user/{uid:[0-9]+}: /v1.0/invoke/users/method/get\n",
			"/user/abc", "GET /user/abc|"},
		{"unmatched path passes unchanged", `{"/a": "/b"}`, "/other", "GET /other|"},
		{"literal wins over template", `{"/item/{id}": "/templated", "/item/special": "/literal"}`,
			"/item/special", "GET /literal|"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mt.Serve(t, &Alias{}, map[string]string{"routes": tt.routes}, mt.Echo())
			status, body, _ := mt.Do(t, mt.NewRequest(t, http.MethodGet, srv.URL+tt.path, nil))
			if status != http.StatusOK || body != tt.want {
				t.Errorf("got %d %q, want 200 %q", status, body, tt.want)
			}
		})
	}
}

func TestRouterAliasConfig(t *testing.T) {
	for _, routes := range []string{"", "[1,2]", `{"no-slash": "/x"}`, `{"/a/{b": "/x"}`, `{"/a/{b:(}": "/x"}`} {
		err := (&Alias{}).Init(context.Background(), middleware.Metadata{Properties: map[string]string{"routes": routes}})
		if err == nil {
			t.Errorf("Init(routes=%q) succeeded", routes)
		}
	}
}
