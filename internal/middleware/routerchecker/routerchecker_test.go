package routerchecker

import (
	"context"
	"net/http"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

func TestRouterChecker(t *testing.T) {
	srv := mt.Serve(t, &Checker{}, map[string]string{"rule": "^[A-Za-z0-9/._-]+$"}, mt.Echo())
	tests := []struct {
		path string
		pass bool
	}{
		{"/v1.0/invoke/demo/method/method", true},
		{"/v1.0/invoke/demo.default/method/01", true},
		{"/v1.0/invoke/demo.default/method/user/info", true},
		{"/v1.0/invoke/demo.default/method/user_info", true},
		{"/v1.0/invoke/demo.default/method/user-info", true},
		{"/v1.0/invoke/demo.default/method/cat%20password", false},
		{`/v1.0/invoke/demo.default/method/%22%20AND%204210=4210%20limit%201`, false},
		{"/v1.0/invoke/demo.default/method/%22$(curl", false},
		{"/v1.0/invoke/demo/method/x?a=b", false}, // the query is checked too
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body, _ := mt.Do(t, mt.NewRequest(t, http.MethodGet, srv.URL+tt.path, nil))
			if tt.pass && status != http.StatusOK {
				t.Errorf("got %d %q, want it to pass", status, body)
			}
			if !tt.pass && (status != http.StatusBadRequest || body != "invalid router") {
				t.Errorf("got %d %q, want 400 invalid router", status, body)
			}
		})
	}
}

func TestRouterCheckerConfig(t *testing.T) {
	for _, props := range []map[string]string{{}, {"rule": "("}} {
		if err := (&Checker{}).Init(context.Background(), middleware.Metadata{Properties: props}); err == nil {
			t.Errorf("Init(%v) succeeded", props)
		}
	}
}
