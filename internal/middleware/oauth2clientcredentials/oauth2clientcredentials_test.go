package oauth2clientcredentials

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
	mt "github.com/outrigger/outrigger/internal/middleware/middlewaretest"
)

// tokenServer issues client-credentials tokens to client "id"/"secret"
// (in the body or as basic auth) and counts them.
type tokenServer struct {
	srv    *httptest.Server
	issued atomic.Int32
	scope  atomic.Value // last requested scope
	extra  atomic.Value // last "resource" parameter
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		if id != "id" || secret != "secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		n := ts.issued.Add(1)
		ts.scope.Store(r.Form.Get("scope"))
		ts.extra.Store(r.Form.Get("resource"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok-" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func props(ts *tokenServer, extra map[string]string) map[string]string {
	p := map[string]string{
		"clientID": "id", "clientSecret": "secret", "scopes": "read,write", "tokenURL": ts.srv.URL, "headerName": "x-token",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func TestClientCredentials(t *testing.T) {
	tests := []struct {
		name      string
		extra     map[string]string
		path      string
		wantToken string
		wantFetch int32
	}{
		{"token added, body auth", map[string]string{"authStyle": "1"}, "/api", "Bearer tok-1", 1},
		{"basic auth", map[string]string{"authStyle": "2"}, "/api", "Bearer tok-1", 1},
		{"auto-detected auth", nil, "/api", "Bearer tok-1", 1},
		{"path filter matches", map[string]string{"pathFilter": "^/api"}, "/api/x", "Bearer tok-1", 1},
		{"path filter skips", map[string]string{"pathFilter": "^/api"}, "/other", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTokenServer(t)
			srv := mt.Serve(t, &ClientCredentials{}, props(ts, tt.extra), mt.Echo("X-Token"))
			for range 3 { // the token is fetched once and cached
				status, body, resp := mt.Do(t, mt.NewRequest(t, http.MethodGet, srv.URL+tt.path, nil))
				if status != http.StatusOK {
					t.Fatalf("status %d %q", status, body)
				}
				if got := resp.Header.Get("X-Got-X-Token"); got != tt.wantToken {
					t.Fatalf("x-token = %q, want %q", got, tt.wantToken)
				}
			}
			if got := ts.issued.Load(); got != tt.wantFetch {
				t.Errorf("tokens issued = %d, want %d", got, tt.wantFetch)
			}
			if tt.wantFetch > 0 && ts.scope.Load() != "read write" {
				t.Errorf("scope = %v, want \"read write\"", ts.scope.Load())
			}
		})
	}
}

func TestClientCredentialsEndpointParams(t *testing.T) {
	ts := newTokenServer(t)
	srv := mt.Serve(t, &ClientCredentials{}, props(ts, map[string]string{"endpointParamsQuery": "resource=https://api.example"}), mt.Echo())
	if status, _, _ := mt.Do(t, mt.NewRequest(t, http.MethodGet, srv.URL, nil)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if got := ts.extra.Load(); got != "https://api.example" {
		t.Errorf("resource parameter = %v", got)
	}
}

func TestClientCredentialsTokenFailure(t *testing.T) {
	ts := newTokenServer(t)
	p := props(ts, nil)
	p["clientSecret"] = "wrong"
	reached := false
	srv := mt.Serve(t, &ClientCredentials{}, p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	status, _, _ := mt.Do(t, mt.NewRequest(t, http.MethodGet, srv.URL, nil))
	if status != http.StatusInternalServerError || reached {
		t.Errorf("status %d, app reached %v; want 500 and not reached", status, reached)
	}
}

func TestClientCredentialsConfig(t *testing.T) {
	ts := newTokenServer(t)
	tests := []map[string]string{
		{"clientID": ""},
		{"headerName": ""},
		{"authStyle": "3"},
		{"authStyle": "x"},
		{"pathFilter": "("},
	}
	for _, extra := range tests {
		if err := (&ClientCredentials{}).Init(context.Background(), middleware.Metadata{Properties: props(ts, extra)}); err == nil {
			t.Errorf("Init with %v succeeded", extra)
		}
	}
}
