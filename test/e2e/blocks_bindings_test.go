package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// blkBindingCall is one request the binding app (or the HTTP server
// behind bindings.http) received.
type blkBindingCall struct {
	method, path, contentType string
	header                    http.Header
	body                      string
}

// blkRecorder records requests and answers each with its own status.
type blkRecorder struct {
	mu     sync.Mutex
	calls  []blkBindingCall
	answer func(r *http.Request, body []byte) (int, http.Header, []byte)
}

func (a *blkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.calls = append(a.calls, blkBindingCall{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Clone(), string(body)})
	a.mu.Unlock()
	status, hdr, out := a.answer(r, body)
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// seen returns the calls received so far.
func (a *blkRecorder) seen() []blkBindingCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// index returns the position of the first call with method and path, or -1.
func blkIndex(calls []blkBindingCall, method, path string) int {
	return slices.IndexFunc(calls, func(c blkBindingCall) bool { return c.method == method && c.path == path })
}

// blkCount counts the calls with method and path.
func blkCount(calls []blkBindingCall, method, path string) int {
	n := 0
	for _, c := range calls {
		if c.method == method && c.path == path {
			n++
		}
	}
	return n
}

// blkInputApp is the app of the input binding test: OPTIONS on /ticks is
// answered 200, on /custom 405 (also a yes), on /refused 404 (a no);
// events get 200.
func blkInputApp(r *http.Request, _ []byte) (int, http.Header, []byte) {
	if r.Method != http.MethodOptions {
		return http.StatusOK, nil, nil
	}
	switch r.URL.Path {
	case "/ticks":
		return http.StatusOK, nil, nil
	case "/custom":
		return http.StatusMethodNotAllowed, nil, nil
	}
	return http.StatusNotFound, nil, nil
}

func TestBlocksInputBindings(t *testing.T) {
	app := &blkRecorder{answer: blkInputApp}
	every := map[string]string{"schedule": "@every 1s"}
	dir := blkResources(t,
		blkComponent("ticks", "bindings.cron", every),
		blkComponent("refused", "bindings.cron", every),
		blkComponent("routed", "bindings.cron", map[string]string{"schedule": "@every 1s", "route": "/custom"}))
	blkStart(t, blkSidecar{appID: blkUnique("input"), resources: dir, appPort: httpApp(t, app)})

	// Two events on /ticks: the refused binding ticks on the same
	// schedule, so had it been started, an event of it would be in by the
	// second one.
	delivered := blkWaitFor(6*time.Second, func() bool {
		c := app.seen()
		return blkCount(c, "POST", "/ticks") >= 2 && blkIndex(c, "POST", "/custom") >= 0
	})
	calls := app.seen()
	if !delivered {
		t.Fatalf("not two cron events on /ticks and one on /custom within 6 s; app saw %+v", calls)
	}
	for _, path := range []string{"/ticks", "/custom"} {
		probe, post := blkIndex(calls, "OPTIONS", path), blkIndex(calls, "POST", path)
		if probe < 0 || probe > post {
			t.Errorf("%s: OPTIONS probe at %d, first event at %d: the probe must come first", path, probe, post)
		}
		if ct := calls[post].contentType; ct != "application/json" {
			t.Errorf("%s: event Content-Type %q, want application/json", path, ct)
		}
	}
	if blkIndex(calls, "OPTIONS", "/refused") < 0 {
		t.Error("the refused binding was never probed")
	}
	if i := blkIndex(calls, "POST", "/refused"); i >= 0 {
		t.Errorf("an event reached /refused although OPTIONS answered 404: %+v", calls[i])
	}
	if blkIndex(calls, "POST", "/routed") >= 0 {
		t.Error("the binding with a route was delivered to its name instead")
	}
}

// blkBindingReq is the body of POST /v1.0/bindings/<name>.
type blkBindingReq struct {
	Operation string            `json:"operation"`
	Data      any               `json:"data,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

func (b blkBindingReq) String() string {
	out, _ := json.Marshal(b)
	return string(out)
}

func TestBlocksOutputBindings(t *testing.T) {
	web := &blkRecorder{answer: func(r *http.Request, body []byte) (int, http.Header, []byte) {
		return http.StatusCreated, http.Header{"X-Reply": {"r"}}, body
	}}
	srv := httptest.NewServer(web)
	t.Cleanup(srv.Close)
	root := t.TempDir()
	dir := blkResources(t,
		blkComponent("files", "bindings.localstorage", map[string]string{"rootPath": root}),
		blkComponent("web", "bindings.http", map[string]string{"url": srv.URL}))
	s := blkStart(t, blkSidecar{appID: blkUnique("output"), resources: dir})[0]
	invoke := func(name string, req blkBindingReq) response {
		return blkCall(t, "POST", s.url("/v1.0/bindings/"+name), req.String())
	}

	t.Run("localstorage", func(t *testing.T) {
		md := map[string]string{"fileName": "dir/a.txt"}
		var created struct {
			FileName string `json:"fileName"`
		}
		blkJSON(t, invoke("files", blkBindingReq{Operation: "create", Data: "hello world!", Metadata: md}), 200, &created)
		if created.FileName != "dir/a.txt" {
			t.Errorf("create answered fileName %q", created.FileName)
		}
		onDisk, err := os.ReadFile(filepath.Join(root, "dir", "a.txt"))
		if err != nil || string(onDisk) != "hello world!" {
			t.Fatalf("file on disk = %q, %v; want the string without JSON quotes", onDisk, err)
		}
		if r := invoke("files", blkBindingReq{Operation: "get", Metadata: md}); r.status != 200 || string(r.body) != "hello world!" {
			t.Errorf("get = %d %q", r.status, r.body)
		}
		var listed []string
		blkJSON(t, invoke("files", blkBindingReq{Operation: "list"}), 200, &listed)
		if !slices.Contains(listed, filepath.Join(root, "dir", "a.txt")) {
			t.Errorf("list = %v, want it to hold %s", listed, filepath.Join(root, "dir", "a.txt"))
		}
		if r := invoke("files", blkBindingReq{Operation: "delete", Metadata: md}); r.status != 204 || len(r.body) != 0 {
			t.Errorf("delete = %d %q, want 204 and no body", r.status, r.body)
		}
		if _, err := os.Stat(filepath.Join(root, "dir", "a.txt")); !os.IsNotExist(err) {
			t.Errorf("file still there after delete: %v", err)
		}
		blkWantError(t, invoke("files", blkBindingReq{Operation: "get", Metadata: md}), 500,
			"ERR_INVOKE_OUTPUT_BINDING", "error invoking output binding files")
	})

	t.Run("http", func(t *testing.T) {
		r := invoke("web", blkBindingReq{Operation: "post", Data: map[string]int{"n": 1},
			Metadata: map[string]string{"path": "/echo/x", "X-Test": "v"}})
		if r.status != 200 || string(r.body) != `{"n":1}` {
			t.Fatalf("post = %d %s, want 200 and the echoed body", r.status, r.body)
		}
		if got := r.header.Get("metadata.statusCode"); got != "201" {
			t.Errorf("metadata.statusCode header = %q, want 201 (headers %v)", got, r.header)
		}
		calls := web.seen()
		if len(calls) != 1 {
			t.Fatalf("server got %d requests, want 1", len(calls))
		}
		c := calls[0]
		if c.method != "POST" || c.path != "/echo/x" || c.header.Get("X-Test") != "v" || c.body != `{"n":1}` {
			t.Errorf("server got %s %s X-Test=%q body %q", c.method, c.path, c.header.Get("X-Test"), c.body)
		}
		r = invoke("web", blkBindingReq{Operation: "get"})
		if r.status != 200 || r.header.Get("metadata.statusCode") != "201" {
			t.Errorf("get = %d, metadata.statusCode %q", r.status, r.header.Get("metadata.statusCode"))
		}
		if c := web.seen()[1]; c.method != "GET" || c.body != "" {
			t.Errorf("get reached the server as %s with body %q", c.method, c.body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, binding, body string
			status              int
			code                string
			parts               []string
		}{
			{"unknown binding", "nosuch", `{"operation":"create","data":1}`, 500, "ERR_INVOKE_OUTPUT_BINDING",
				[]string{"error invoking output binding nosuch"}},
			{"unsupported operation", "files", `{"operation":"frobnicate"}`, 500, "ERR_INVOKE_OUTPUT_BINDING",
				[]string{"error invoking output binding files"}},
			{"missing operation", "web", `{"data":1}`, 500, "ERR_INVOKE_OUTPUT_BINDING", nil},
			{"bad JSON", "web", `{"operation":`, 400, "ERR_MALFORMED_REQUEST", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				blkWantError(t, blkCall(t, "POST", s.url("/v1.0/bindings/"+tt.binding), tt.body), tt.status, tt.code, tt.parts...)
			})
		}
		if n := len(web.seen()); n != 2 {
			t.Errorf("the HTTP server got %d requests, want only the 2 of the http subtest", n)
		}
	})
}
