package appchannel

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
)

// echoApp answers with the path, a request header and the body it got.
func echoApp() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Seen", r.Header.Get("X-Added"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, r.URL.Path+"|"+string(body))
	}))
}

func TestHTTPPipelineWrapsCalls(t *testing.T) {
	upperBody := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(bytes.ToUpper(b)))
			r.ContentLength = int64(len(b))
			next.ServeHTTP(w, r)
		})
	}
	addHeader := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("X-Added", "yes")
			next.ServeHTTP(w, r)
		})
	}
	rewrite := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.Path = "/rewritten"
			r.RequestURI = "/rewritten" // as a server-side middleware might
			next.ServeHTTP(w, r)
		})
	}
	refuse := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, "slow down")
		})
	}
	chain := func(ms ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			for i := len(ms) - 1; i >= 0; i-- {
				h = ms[i](h)
			}
			return h
		}
	}
	tests := []struct {
		name       string
		pipeline   func(http.Handler) http.Handler
		wantStatus int32
		wantBody   string
		wantSeen   string
	}{
		{"none", nil, 202, "/orders|hello", ""},
		{"request body rewritten", upperBody, 202, "/orders|HELLO", ""},
		{"header added and path rewritten", chain(addHeader, rewrite), 202, "/rewritten|hello", "yes"},
		{"middleware answers itself", chain(addHeader, refuse, upperBody), 429, "slow down", ""},
	}
	app := echoApp()
	defer app.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := newChannelFor(t, app, Config{HTTPPipeline: tt.pipeline})
			req := newTestRequest("orders", commonv1.HTTPExtension_POST, "", "text/plain", nil, strings.NewReader("hello"))
			resp, err := ch.Invoke(context.Background(), req)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			body := readAllClose(t, resp.Body)
			if got := resp.Message.GetStatus().GetCode(); got != tt.wantStatus {
				t.Errorf("status = %d, want %d", got, tt.wantStatus)
			}
			if body != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if got := resp.Message.GetHeaders()["x-seen"].GetValues(); tt.wantStatus == 202 && (len(got) != 1 || got[0] != tt.wantSeen) {
				t.Errorf("X-Seen = %v, want %q", got, tt.wantSeen)
			}
		})
	}
}

func TestHTTPPipelineAppDownIsAnError(t *testing.T) {
	app := echoApp()
	ch := newChannelFor(t, app, Config{HTTPPipeline: func(h http.Handler) http.Handler { return h }})
	app.Close()
	req := newTestRequest("orders", commonv1.HTTPExtension_GET, "", "", nil, nil)
	if _, err := ch.Invoke(context.Background(), req); err == nil {
		t.Fatal("Invoke to a closed app succeeded")
	}
}

func TestHTTPPipelineResponseLimit(t *testing.T) {
	app := echoApp()
	defer app.Close()
	ch := newChannelFor(t, app, Config{MaxResponseBodySize: 8, HTTPPipeline: func(h http.Handler) http.Handler { return h }})
	req := newTestRequest("orders", commonv1.HTTPExtension_POST, "", "text/plain", nil, strings.NewReader("a body longer than eight bytes"))
	_, err := ch.Invoke(context.Background(), req)
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
}
