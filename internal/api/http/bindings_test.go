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
	"strings"
	"sync"
	"testing"

	"github.com/outrigger/outrigger/internal/api"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/localstorage"
)

// outputRecorder is an output binding that records calls. Operation
// "create" echoes the data with metadata; "delete" answers nothing;
// "get" fails with response metadata.
type outputRecorder struct {
	mu   sync.Mutex
	reqs []bindings.InvokeRequest
}

func (o *outputRecorder) Init(context.Context, bindings.Metadata) error { return nil }
func (o *outputRecorder) Operations() []string                          { return []string{"create", "get", "delete"} }
func (o *outputRecorder) Close() error                                  { return nil }

func (o *outputRecorder) Invoke(_ context.Context, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error) {
	o.mu.Lock()
	o.reqs = append(o.reqs, bindings.InvokeRequest{Operation: req.Operation, Data: req.Data, Metadata: maps.Clone(req.Metadata)})
	o.mu.Unlock()
	switch req.Operation {
	case "delete":
		return nil, nil
	case "get":
		return &bindings.InvokeResponse{Data: []byte("ignored"), Metadata: map[string]string{"statusCode": "503"}}, errors.New("received status code 503")
	}
	return &bindings.InvokeResponse{Data: req.Data, Metadata: map[string]string{"size": "n/a", "Echo": "yes"}}, nil
}

func (o *outputRecorder) last(t *testing.T) bindings.InvokeRequest {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.reqs) == 0 {
		t.Fatal("binding not called")
	}
	return o.reqs[len(o.reqs)-1]
}

func newBindingServer(t *testing.T) (*httptest.Server, *outputRecorder) {
	t.Helper()
	rec := &outputRecorder{}
	core := api.New(api.Config{AppID: "myapp", Outputs: []*api.OutputBinding{
		{Name: "out", Type: "bindings.test", Version: "v1", Binding: rec},
		{Name: "my out", Type: "bindings.test", Version: "v1", Binding: rec},
	}})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core, MaxBodySize: 1 << 16}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// TestBindingDataEncoding: data is re-encoded with encoding/json.
func TestBindingDataEncoding(t *testing.T) {
	srv, rec := newBindingServer(t)
	tests := []struct {
		name, data, want string
	}{
		{"string keeps its quotes", `"x"`, `"x"`},
		{"object keys sorted, spaces dropped", `{ "b": 2, "a": [1, 2] }`, `{"a":[1,2],"b":2}`},
		{"numbers become float64", `1e3`, `1000`},
		{"big numbers lose precision", `12345678901234567890`, `12345678901234567000`},
		{"html escaped", `"<a&b>"`, `"\u003ca\u0026b\u003e"`},
		{"absent", ``, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"operation":"create","metadata":{"k":"v"}`
			if tt.data != "" {
				body += `,"data":` + tt.data
			}
			res := do(t, srv, http.MethodPost, "/v1.0/bindings/out?metadata.ignored=1", body+"}", nil)
			if res.status != http.StatusOK || res.body != tt.want || res.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %v", res.status, res.body, res.header)
			}
			got := rec.last(t)
			if string(got.Data) != tt.want || got.Operation != "create" || len(got.Metadata) != 1 || got.Metadata["k"] != "v" {
				t.Fatalf("binding got %q %v", got.Data, got.Metadata)
			}
			if res.header.Get("metadata.size") != "n/a" || res.header.Get("metadata.Echo") != "yes" {
				t.Fatalf("metadata headers %v", res.header)
			}
		})
	}
}

func TestBindingResponses(t *testing.T) {
	srv, rec := newBindingServer(t)
	// PUT works as POST; an empty answer is 204; names are unescaped.
	res := do(t, srv, http.MethodPut, "/v1.0/bindings/my%20out", `{"operation":"delete"}`, nil)
	if res.status != http.StatusNoContent || res.body != "" {
		t.Fatalf("delete = %d %q", res.status, res.body)
	}
	if rec.last(t).Operation != "delete" {
		t.Fatal("my out not called")
	}
	// A failing binding's response metadata still comes back as headers.
	res = do(t, srv, http.MethodPost, "/v1.0/bindings/out", `{"operation":"get"}`, nil)
	if res.status != http.StatusInternalServerError || res.header.Get("metadata.statusCode") != "503" {
		t.Fatalf("get = %d %v", res.status, res.header)
	}
	checkErrorBody(t, res.body, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding out: received status code 503")

	errs := []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"unknown binding", "/v1.0/bindings/nope", `{"operation":"create"}`, 500, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding nope: couldn't find output binding nope"},
		{"no operation", "/v1.0/bindings/out", `{"data":1}`, 500, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding out: operation field is missing from request"},
		{"unsupported operation", "/v1.0/bindings/out", `{"operation":"list"}`, 500, "ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding out: binding out does not support operation list. supported operations:create get delete"},
		{"bad json", "/v1.0/bindings/out", `{"operation":`, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: unexpected end of JSON input"},
		{"empty body", "/v1.0/bindings/out", ``, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: unexpected end of JSON input"},
		{"metadata not strings", "/v1.0/bindings/out", `{"operation":"create","metadata":{"n":1}}`, 400, "ERR_MALFORMED_REQUEST", ""},
		{"too large", "/v1.0/bindings/out", `{"data":"` + strings.Repeat("x", 1<<16) + `"}`, 400, "ERR_MALFORMED_REQUEST", ""},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, srv, http.MethodPost, tt.path, tt.body, nil)
			if res.status != tt.status {
				t.Fatalf("status %d, body %s", res.status, res.body)
			}
			checkErrorBody(t, res.body, tt.code, tt.msg)
		})
	}
	// Other methods and paths fall through to service invocation.
	for _, p := range []string{"/v1.0/bindings/out/extra", "/v1.0/bindings"} {
		if res := do(t, srv, http.MethodPost, p, `{"operation":"create"}`, nil); res.status != http.StatusNotFound {
			t.Errorf("POST %s = %d", p, res.status)
		}
	}
	if res := do(t, srv, http.MethodGet, "/v1.0/bindings/out", "", nil); res.status != http.StatusNotFound || !strings.Contains(res.body, "ERR_DIRECT_INVOKE") {
		t.Errorf("GET = %d %s", res.status, res.body)
	}
}

func TestBindingTraceContext(t *testing.T) {
	srv, rec := newBindingServer(t)
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	res := do(t, srv, http.MethodPost, "/v1.0/bindings/out", `{"operation":"create","data":1}`, map[string]string{"traceparent": tp, "tracestate": "a=b", "baggage": "user=alice;p"})
	if res.status != http.StatusOK {
		t.Fatalf("status %d %s", res.status, res.body)
	}
	md := rec.last(t).Metadata
	if md["traceparent"] != tp || md["tracestate"] != "a=b" || md["baggage"] != "user=alice;p" {
		t.Fatalf("metadata %v", md)
	}
	res = do(t, srv, http.MethodPost, "/v1.0/bindings/out", `{"operation":"create"}`, map[string]string{"baggage": "invalid-baggage"})
	if res.status != http.StatusBadRequest {
		t.Fatalf("invalid baggage = %d", res.status)
	}
	checkErrorBody(t, res.body, "ERR_MALFORMED_REQUEST", "")
}

// checkErrorBody checks a Dapr error body; an empty msg only checks the code.
func checkErrorBody(t *testing.T, body, code, msg string) {
	t.Helper()
	var e struct {
		ErrorCode string `json:"errorCode"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.ErrorCode != code || (msg != "" && e.Message != msg) {
		t.Fatalf("error %+v, want %s %q", e, code, msg)
	}
}

// TestLocalStorageThroughHTTP: the JSON string the HTTP API hands over is
// unquoted by the component, so "data":"hello" writes hello (as verified
// against daprd).
func TestLocalStorageThroughHTTP(t *testing.T) {
	ls := localstorage.New()
	root := t.TempDir()
	if err := ls.Init(context.Background(), bindings.Metadata{Name: "files", Properties: map[string]string{"rootPath": root}}); err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	core := api.New(api.Config{AppID: "myapp", Outputs: []*api.OutputBinding{{Name: "files", Type: "bindings.localstorage", Version: "v1", Binding: ls}}})
	srv := httptest.NewServer(apihttp.New(apihttp.Config{Core: core}))
	defer srv.Close()
	res := do(t, srv, http.MethodPost, "/v1.0/bindings/files", `{"operation":"create","data":"hello","metadata":{"fileName":"greeting.txt"}}`, nil)
	if res.status != http.StatusOK || res.body != `{"fileName":"greeting.txt"}` {
		t.Fatalf("create = %d %s", res.status, res.body)
	}
	if b, err := os.ReadFile(filepath.Join(root, "greeting.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("file = %q, %v", b, err)
	}
	res = do(t, srv, http.MethodPost, "/v1.0/bindings/files", `{"operation":"get","metadata":{"fileName":"greeting.txt"}}`, nil)
	if res.status != http.StatusOK || res.body != "hello" {
		t.Fatalf("get = %d %s", res.status, res.body)
	}
	res = do(t, srv, http.MethodPost, "/v1.0/bindings/files", `{"operation":"get","metadata":{"fileName":"../../etc/passwd"}}`, nil)
	if res.status != http.StatusInternalServerError {
		t.Fatalf("escape = %d %s", res.status, res.body)
	}
}
