package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/secretstores/localfile"
)

// stubSecrets returns data for every read, or err.
type stubSecrets struct {
	data map[string]map[string]string
	err  error
}

func (s stubSecrets) Init(context.Context, secretstores.Metadata) error { return nil }
func (s stubSecrets) Features() []secretstores.Feature                  { return nil }
func (s stubSecrets) Close() error                                      { return nil }
func (s stubSecrets) GetSecret(_ context.Context, name string, md map[string]string) (map[string]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	if name == "echo-metadata" {
		return md, nil
	}
	return maps.Clone(s.data[name]), nil
}
func (s stubSecrets) BulkGetSecret(context.Context, map[string]string) (map[string]map[string]string, error) {
	return s.data, s.err
}

// newSecretServer serves the secret stores "files" (local.file, multi-
// valued), "empty", "broken", with "files" scoped by a deny list.
func newSecretServer(t *testing.T) *httptest.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets.json")
	content := `{"db": {"user": "admin", "password": "pw"}, "token": "t", "hidden": "h", "a/b": "slash"}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	files := localfile.New()
	if err := files.Init(context.Background(), secretstores.Metadata{Name: "files", Properties: map[string]string{"secretsFile": path, "multiValued": "true"}}); err != nil {
		t.Fatal(err)
	}
	cfg := &resources.Configuration{Spec: resources.ConfigurationSpec{Secrets: resources.SecretsSpec{Scopes: []resources.SecretsScope{
		{StoreName: "files", DeniedSecrets: []string{"hidden"}},
		{StoreName: "denyall", DefaultAccess: "deny"},
	}}}}
	core := api.New(api.Config{AppID: "myapp", SecretScopes: cfg.SecretAllowed, Secrets: []*secretstores.Component{
		{Name: "files", Type: "secretstores.local.file", Version: "v1", Store: files},
		{Name: "empty", Store: stubSecrets{data: map[string]map[string]string{}}},
		{Name: "denyall", Store: stubSecrets{data: map[string]map[string]string{"x": {"x": "1"}}}},
		{Name: "broken", Store: stubSecrets{err: errors.New("backend down")}},
	}})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSecretsHTTP(t *testing.T) {
	srv := newSecretServer(t)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantBody           any // decoded JSON, or nil for no body
		wantCode           string
	}{
		{"get multi-key secret", "GET", "/v1.0/secrets/files/db", 200, map[string]any{"user": "admin", "password": "pw"}, ""},
		{"get single-key secret", "GET", "/v1.0/secrets/files/token", 200, map[string]any{"token": "t"}, ""},
		{"escaped key", "GET", "/v1.0/secrets/files/a%2Fb", 200, map[string]any{"a/b": "slash"}, ""},
		{"query metadata reaches the store", "GET", "/v1.0/secrets/empty/echo-metadata?metadata.version_id=3&other=x", 200, map[string]any{"version_id": "3"}, ""},
		{"empty secret is 204", "GET", "/v1.0/secrets/empty/x", 204, nil, ""},
		{"bulk omits denied secrets", "GET", "/v1.0/secrets/files/bulk", 200, map[string]any{
			"db": map[string]any{"user": "admin", "password": "pw"}, "token": map[string]any{"token": "t"}, "a/b": map[string]any{"a/b": "slash"},
		}, ""},
		{"bulk with nothing is 204", "GET", "/v1.0/secrets/empty/bulk", 204, nil, ""},
		{"bulk with everything denied is 204", "GET", "/v1.0/secrets/denyall/bulk", 204, nil, ""},
		{"denied", "GET", "/v1.0/secrets/files/hidden", 403, nil, "ERR_PERMISSION_DENIED"},
		{"default deny", "GET", "/v1.0/secrets/denyall/x", 403, nil, "ERR_PERMISSION_DENIED"},
		{"unknown store", "GET", "/v1.0/secrets/nope/x", 401, nil, "ERR_SECRET_STORE_NOT_FOUND"},
		{"unknown store bulk", "GET", "/v1.0/secrets/nope/bulk", 401, nil, "ERR_SECRET_STORE_NOT_FOUND"},
		{"missing secret", "GET", "/v1.0/secrets/files/nope", 500, nil, "ERR_SECRET_GET"},
		{"store error", "GET", "/v1.0/secrets/broken/x", 500, nil, "ERR_SECRET_GET"},
		{"store error bulk", "GET", "/v1.0/secrets/broken/bulk", 500, nil, "ERR_SECRET_GET"},
		{"wrong method falls to invoke", "POST", "/v1.0/secrets/files/db", 404, nil, "ERR_DIRECT_INVOKE"},
		{"too few segments falls to invoke", "GET", "/v1.0/secrets/files", 404, nil, "ERR_DIRECT_INVOKE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, "", nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			switch {
			case tt.wantCode != "":
				if got := errorCode(t, r.body); got != tt.wantCode {
					t.Fatalf("errorCode = %s, want %s (body %s)", got, tt.wantCode, r.body)
				}
			case tt.wantBody == nil:
				if r.body != "" {
					t.Fatalf("body = %q, want none", r.body)
				}
			default:
				var got any
				if err := json.Unmarshal([]byte(r.body), &got); err != nil || !reflect.DeepEqual(got, tt.wantBody) {
					t.Fatalf("body = %s (%v), want %v", r.body, err, tt.wantBody)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type = %q", ct)
				}
			}
		})
	}
}

func TestSecretsHTTPErrorBodies(t *testing.T) {
	srv := newSecretServer(t)
	none := httptest.NewServer(apihttp.New(apihttp.Config{Core: api.New(api.Config{AppID: "myapp"})}))
	t.Cleanup(none.Close)
	tests := []struct {
		name       string
		srv        *httptest.Server
		path       string
		wantStatus int
		wantBody   string
	}{
		{"not configured", none, "/v1.0/secrets/s/k", 500, `{"errorCode":"ERR_SECRET_STORES_NOT_CONFIGURED","message":"secret store is not configured"}`},
		{"not configured bulk", none, "/v1.0/secrets/s/bulk", 500, `{"errorCode":"ERR_SECRET_STORES_NOT_CONFIGURED","message":"secret store is not configured"}`},
		{"unknown store", srv, "/v1.0/secrets/nope/k", 401, `{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"failed finding secret store with key nope"}`},
		{"denied", srv, "/v1.0/secrets/files/hidden", 403, `{"errorCode":"ERR_PERMISSION_DENIED","message":"access denied by policy to get \"hidden\" from \"files\""}`},
		{"bulk error", srv, "/v1.0/secrets/broken/bulk", 500, `{"errorCode":"ERR_SECRET_GET","message":"failed getting secrets from secret store broken: backend down"}`},
		{"get error", srv, "/v1.0/secrets/broken/k", 500, `{"errorCode":"ERR_SECRET_GET","message":"failed getting secret with key k from secret store broken: backend down"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.srv, http.MethodGet, tt.path, "", nil)
			if r.status != tt.wantStatus || r.body != tt.wantBody {
				t.Fatalf("got %d %s\nwant %d %s", r.status, r.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}
