// Package middlewaretest helps test HTTP middleware components against a
// real HTTP server.
package middlewaretest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outrigger/outrigger/internal/middleware"
)

// Serve initialises m with props and serves it in front of next on a test
// server; both are closed when the test ends.
func Serve(t testing.TB, m middleware.Middleware, props map[string]string, next http.Handler) *httptest.Server {
	t.Helper()
	if err := m.Init(context.Background(), middleware.Metadata{Name: "test", Properties: props}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	srv := httptest.NewServer(m.Handler(next))
	t.Cleanup(func() {
		srv.Close()
		_ = m.Close()
	})
	return srv
}

// Echo answers 200 with "<method> <path>?<query>|<body>", and copies the
// request headers named in its argument into the response as X-Got-<name>.
func Echo(headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for _, h := range headers {
			w.Header().Set("X-Got-"+h, r.Header.Get(h))
		}
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		_, _ = io.WriteString(w, r.Method+" "+target+"|"+string(body))
	})
}

// Do sends a request and returns status, body and the response.
func Do(t testing.TB, req *http.Request) (int, string, *http.Response) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp.StatusCode, string(b), resp
}

// NewRequest builds a request or fails the test.
func NewRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
