package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/memory"
)

// newServer starts the HTTP API over one in-memory store named "store".
func newServer(t testing.TB, token string, maxBody int64, withStore bool) *httptest.Server {
	t.Helper()
	var stores []*state.Component
	if withStore {
		s := memory.New()
		if err := s.Init(context.Background(), state.Metadata{Name: "store"}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		keys, _ := state.NewKeyScheme("", "myapp", "store", "")
		stores = append(stores, state.NewComponent("store", "state.in-memory", "v1", s, keys, false))
	}
	core := api.New(api.Config{AppID: "myapp", StateStores: stores, Metadata: api.NewMetadata(api.MetadataInfo{AppID: "myapp", RuntimeVersion: "1.18.3"})})
	core.SetOutboundReady()
	core.SetReady()
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, APIToken: token, MaxBodySize: maxBody}))
	t.Cleanup(srv.Close)
	return srv
}

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) resp {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(b)}
}

func errorCode(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		ErrorCode string `json:"errorCode"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %q", body)
	}
	return e.ErrorCode
}

func TestStateErrors(t *testing.T) {
	srv := newServer(t, "", 1024, true)
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		wantStatus               int
		wantCode                 string
	}{
		{"bad json", "POST", "/v1.0/state/store", `[{"key":"a",}]`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"empty body", "POST", "/v1.0/state/store", ``, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"object not array", "POST", "/v1.0/state/store", `{}`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"missing key", "POST", "/v1.0/state/store", `[{"value":1}]`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"numeric etag", "POST", "/v1.0/state/store", `[{"key":"a","value":1,"etag":5}]`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"unknown store", "GET", "/v1.0/state/nostore/a", ``, nil, 400, "ERR_STATE_STORE_NOT_FOUND"},
		{"illegal key", "GET", "/v1.0/state/store/a%7C%7Cb", ``, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"stale etag", "POST", "/v1.0/state/store", `[{"key":"a","value":1,"etag":"999"}]`, nil, 409, "ERR_STATE_SAVE"},
		{"malformed etag", "POST", "/v1.0/state/store", `[{"key":"a","value":1,"etag":"xyz"}]`, nil, 400, "ERR_STATE_SAVE"},
		{"stale etag delete", "DELETE", "/v1.0/state/store/a", ``, map[string]string{"If-Match": "999"}, 409, "ERR_STATE_DELETE"},
		{"bad concurrency", "POST", "/v1.0/state/store", `[{"key":"a","value":1,"options":{"concurrency":"bogus"}}]`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"bad ttl", "POST", "/v1.0/state/store", `[{"key":"a","value":1,"metadata":{"ttlInSeconds":"abc"}}]`, nil, 400, "ERR_STATE_SAVE"},
		{"tx bad op", "POST", "/v1.0/state/store/transaction", `{"operations":[{"operation":"merge","request":{"key":"a"}}]}`, nil, 400, "ERR_NOT_SUPPORTED_STATE_OPERATION"},
		{"tx stale etag", "POST", "/v1.0/state/store/transaction", `{"operations":[{"operation":"upsert","request":{"key":"a","value":1,"etag":"999"}}]}`, nil, 500, "ERR_STATE_TRANSACTION"},
		{"oversized", "POST", "/v1.0/state/store", `[{"key":"a","value":"` + strings.Repeat("x", 2000) + `"}]`, nil, 400, "ERR_MALFORMED_REQUEST"},
		{"unknown route", "GET", "/v1.0/nothing", ``, nil, 404, "ERR_DIRECT_INVOKE"},
		{"wrong method", "PATCH", "/v1.0/state/store", ``, nil, 404, "ERR_DIRECT_INVOKE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, tt.method, tt.path, tt.body, tt.hdr)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			if got := errorCode(t, r.body); got != tt.wantCode {
				t.Fatalf("errorCode = %q, want %q (body %s)", got, tt.wantCode, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestStateNotConfigured(t *testing.T) {
	srv := newServer(t, "", 0, false)
	r := do(t, srv, "GET", "/v1.0/state/store/a", "", nil)
	if r.status != 500 || errorCode(t, r.body) != "ERR_STATE_STORE_NOT_CONFIGURED" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestStoreNotFoundDetails(t *testing.T) {
	srv := newServer(t, "", 0, true)
	r := do(t, srv, "GET", "/v1.0/state/nostore/a", "", nil)
	want := `{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":"state store nostore is not found","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"DAPR_STATE_NOT_FOUND","domain":"dapr.io","metadata":{"appID":"myapp"}}]}`
	if r.body != want {
		t.Fatalf("body =\n%s\nwant\n%s", r.body, want)
	}
}

func TestStateRoundTrip(t *testing.T) {
	srv := newServer(t, "", 0, true)
	// Values are kept byte-exact, including whitespace inside JSON.
	r := do(t, srv, "POST", "/v1.0/state/store", `[{"key":"k1","value":{"b": 1,"a":[1, 2]}},{"key":"k 2/x","value":"str"}]`, nil)
	if r.status != 204 {
		t.Fatalf("save: %d %s", r.status, r.body)
	}
	r = do(t, srv, "GET", "/v1.0/state/store/k1", "", nil)
	if r.status != 200 || r.body != `{"b": 1,"a":[1, 2]}` {
		t.Fatalf("get: %d %q", r.status, r.body)
	}
	etag := r.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag header")
	}
	r = do(t, srv, "GET", "/v1.0/state/store/k%202%2Fx", "", nil)
	if r.status != 200 || r.body != `"str"` {
		t.Fatalf("get escaped key: %d %q", r.status, r.body)
	}
	r = do(t, srv, "POST", "/v1.0/state/store/bulk", `{"keys":["k1","missing"],"parallelism":2}`, nil)
	if r.status != 200 || r.body != `[{"key":"k1","data":{"b":1,"a":[1,2]},"etag":"`+etag+`"},{"key":"missing"}]` {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	r = do(t, srv, "DELETE", "/v1.0/state/store/k1", "", map[string]string{"If-Match": etag})
	if r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	r = do(t, srv, "GET", "/v1.0/state/store/k1", "", nil)
	if r.status != 204 {
		t.Fatalf("get after delete: %d %s", r.status, r.body)
	}
	r = do(t, srv, "POST", "/v1.0/state/store/transaction", `{"operations":[{"operation":"upsert","request":{"key":"t1","value":1}},{"operation":"delete","request":{"key":"k 2/x"}}]}`, nil)
	if r.status != 204 {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	if r = do(t, srv, "GET", "/v1.0/state/store/t1", "", nil); r.body != "1" {
		t.Fatalf("after tx t1 = %q", r.body)
	}
	if r = do(t, srv, "GET", "/v1.0/state/store/k%202%2Fx", "", nil); r.status != 204 {
		t.Fatalf("after tx deleted key: %d", r.status)
	}
}

func TestAPIToken(t *testing.T) {
	srv := newServer(t, "secret", 0, true)
	if r := do(t, srv, "GET", "/v1.0/state/store/a", "", nil); r.status != 401 || r.body != "invalid api token\n" {
		t.Fatalf("no token: %d %q", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/v1.0/state/store/a", "", map[string]string{"dapr-api-token": "secret"}); r.status != 204 {
		t.Fatalf("with token: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/v1.0/healthz", "/v1.0/healthz/outbound"} {
		if r := do(t, srv, "GET", p, "", nil); r.status != 204 {
			t.Fatalf("%s without token: %d", p, r.status)
		}
	}
	if r := do(t, srv, "GET", "/v1.0/metadata", "", nil); r.status != 401 {
		t.Fatalf("metadata without token: %d", r.status)
	}
}

func TestMetadata(t *testing.T) {
	srv := newServer(t, "", 0, true)
	if r := do(t, srv, "PUT", "/v1.0/metadata/cliPID", "1234", nil); r.status != 204 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	r := do(t, srv, "GET", "/v1.0/metadata", "", nil)
	var md struct {
		ID       string            `json:"id"`
		Extended map[string]string `json:"extended"`
	}
	if err := json.Unmarshal([]byte(r.body), &md); err != nil {
		t.Fatal(err)
	}
	if md.ID != "myapp" || md.Extended["cliPID"] != "1234" || md.Extended["daprRuntimeVersion"] != "1.18.3" {
		t.Fatalf("metadata = %s", r.body)
	}
	if r := do(t, srv, "GET", "/v1.0/healthz?appid=other", "", nil); r.status != 500 || errorCode(t, r.body) != "ERR_HEALTH_APPID_NOT_MATCH" {
		t.Fatalf("healthz appid mismatch: %d %s", r.status, r.body)
	}
}

func TestPublicAndCORS(t *testing.T) {
	core := api.New(api.Config{AppID: "myapp"})
	core.SetOutboundReady()
	core.SetReady()
	h := apihttp.New(apihttp.Config{Core: core, APIToken: "secret"})
	pub := httptest.NewServer(apihttp.PublicHandler(h))
	defer pub.Close()
	if r := do(t, pub, "GET", "/v1.0/metadata", "", nil); r.status != 200 {
		t.Fatalf("public metadata without token: %d", r.status)
	}
	if r := do(t, pub, "GET", "/v1.0/state/store/a", "", nil); r.status != 404 {
		t.Fatalf("public state route: %d", r.status)
	}
	cors := httptest.NewServer(apihttp.CORS("http://a.example", h))
	defer cors.Close()
	r := do(t, cors, "OPTIONS", "/v1.0/state/store", "", map[string]string{"Origin": "http://a.example", "Access-Control-Request-Method": "POST"})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://a.example" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = do(t, cors, "OPTIONS", "/v1.0/state/store", "", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got CORS headers: %v", r.header)
	}
}
