package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/bindings"
)

// seen is one request as the test server received it.
type seen struct {
	method, path, body string
	header             http.Header
}

// recorder serves canned answers and records requests.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{req.Method, req.URL.Path, string(body), req.Header.Clone()})
	r.mu.Unlock()
	switch req.URL.Path {
	case "/fail":
		w.Header().Set("X-Reason", "broken")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("boom"))
	case "/big":
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	case "/slow":
		select {
		case <-req.Context().Done():
		case <-time.After(2 * time.Second):
		}
	default:
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("echo:" + string(body)))
	}
}

func (r *recorder) last() seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs[len(r.reqs)-1]
}

func newBinding(t *testing.T, props map[string]string) *Binding {
	t.Helper()
	b := New()
	if err := b.Init(context.Background(), bindings.Metadata{Name: "h", Properties: props}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestVerbs(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	b := newBinding(t, map[string]string{"url": srv.URL + "/base/"})
	tests := []struct {
		op, method string
		body       bool
	}{
		{"create", "POST", true}, {"post", "POST", true}, {"put", "PUT", true}, {"patch", "PATCH", true},
		{"get", "GET", false}, {"delete", "DELETE", false}, {"options", "OPTIONS", false}, {"trace", "TRACE", false}, {"head", "HEAD", false},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			res, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: tt.op, Data: []byte(`{"a":1}`), Metadata: map[string]string{"path": "/items/7"}})
			if err != nil {
				t.Fatal(err)
			}
			got := rec.last()
			if got.method != tt.method || got.path != "/base/items/7" {
				t.Fatalf("request %s %s", got.method, got.path)
			}
			if tt.body != (got.body == `{"a":1}`) {
				t.Fatalf("body %q (sent: %v)", got.body, tt.body)
			}
			if tt.body && got.header.Get("Content-Type") != jsonUTF8 {
				t.Fatalf("content type %q", got.header.Get("Content-Type"))
			}
			if got.header.Get("Accept") != jsonUTF8 {
				t.Fatalf("accept %q", got.header.Get("Accept"))
			}
			if res.Metadata["statusCode"] != "201" || res.Metadata["status"] != "201 Created" || res.Metadata["X-Multi"] != "a, b" {
				t.Fatalf("metadata %v", res.Metadata)
			}
			if tt.method != "HEAD" && string(res.Data) != "echo:"+got.body {
				t.Fatalf("data %q", res.Data)
			}
		})
	}
	if _, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "connect"}); err == nil {
		t.Fatal("operation connect accepted")
	}
}

func TestHeadersAndToken(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	b := newBinding(t, map[string]string{"url": srv.URL, "securityToken": "s3cret", "securityTokenHeader": "X-Token"})
	md := map[string]string{
		"Content-Type": "text/plain", "Accept": "text/html", "X-Custom": "yes",
		"lowercase": "not a header", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	}
	if _, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "post", Data: []byte("hi"), Metadata: md}); err != nil {
		t.Fatal(err)
	}
	h := rec.last().header
	for k, want := range map[string]string{"Content-Type": "text/plain", "Accept": "text/html", "X-Custom": "yes", "X-Token": "s3cret", "Traceparent": md["traceparent"], "Lowercase": ""} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestErrorIfNot2XX(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	tests := []struct {
		name      string
		component string
		request   string
		wantErr   bool
	}{
		{"default", "", "", true},
		{"component off", "false", "", false},
		{"request off", "", "false", false},
		{"request on", "false", "true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props := map[string]string{"url": srv.URL}
			if tt.component != "" {
				props["errorIfNot2XX"] = tt.component
			}
			b := newBinding(t, props)
			md := map[string]string{"path": "fail"}
			if tt.request != "" {
				md["errorIfNot2XX"] = tt.request
			}
			res, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "get", Metadata: md})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil && err.Error() != "received status code 500" {
				t.Fatalf("message %q", err)
			}
			// The response comes back either way, for its metadata.
			if res == nil || res.Metadata["statusCode"] != "500" || res.Metadata["X-Reason"] != "broken" || string(res.Data) != "boom" {
				t.Fatalf("response %+v", res)
			}
		})
	}
}

func TestMaxResponseBodyAndTimeout(t *testing.T) {
	srv := httptest.NewServer(&recorder{})
	defer srv.Close()
	b := newBinding(t, map[string]string{"url": srv.URL, "maxResponseBodySize": "10", "responseTimeout": "100ms"})
	res, err := b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "get", Metadata: map[string]string{"path": "big"}})
	if err != nil || len(res.Data) != 10 {
		t.Fatalf("truncated body = %d bytes, %v", len(res.Data), err)
	}
	start := time.Now()
	_, err = b.Invoke(context.Background(), &bindings.InvokeRequest{Operation: "get", Metadata: map[string]string{"path": "slow"}})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("slow call: %v after %s", err, time.Since(start))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, props := range []map[string]string{
		{},
		{"url": "http://x", "responseTimeout": "soon"},
		{"url": "http://x", "maxResponseBodySize": "lots"},
		{"url": "http://x", "MTLSRootCA": "/does/not/exist"},
		{"url": "http://x", "MTLSRenegotiation": "Sometimes"},
	} {
		if err := New().Init(context.Background(), bindings.Metadata{Properties: props}); err == nil {
			t.Errorf("Init(%v) succeeded", props)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	tests := map[string]int64{"100Mi": 100 << 20, "2Ki": 2048, "10M": 10_000_000, "1k": 1000, "512": 512, "0": 0, "-1": -1}
	for in, want := range tests {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v", in, got, err)
		}
	}
}
