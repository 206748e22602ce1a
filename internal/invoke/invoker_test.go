package invoke

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
)

// seen is what a fake app observed of one request.
type seen struct {
	method, path, query, body string
	header                    http.Header
}

// recordingApp answers with a fixed response and records the request.
func recordingApp(t *testing.T, got *seen, code int, respBody string) *handlerChannel {
	return newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*got = seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, body: string(b), header: r.Header.Clone()}
		w.Header().Set("X-From-App", "yes")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, respBody)
	})
}

func TestInvokeRemoteHeadersBothWays(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		var got seen
		inv := connect(NewServer(recordingApp(t, &got, http.StatusCreated, "made"), nil))

		hdr := http.Header{"X-Custom": {"v"}, "Content-Type": {"application/json"},
			"X-Forwarded-For": {"198.51.100.7"}, "Forwarded": {"for=198.51.100.7"}, "Dapr-Caller-App-Id": {"spoofed"}}
		resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPut, "orders/7", `{"n":1}`, hdr))
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != "made" {
			t.Errorf("response body = %q", body)
		}
		if c := resp.Message.GetStatus().GetCode(); c != http.StatusCreated {
			t.Errorf("status = %d", c)
		}
		if firstMD(resp.Message.GetHeaders(), "x-from-app") != "yes" {
			t.Errorf("response headers = %v", resp.Message.GetHeaders())
		}

		if got.method != http.MethodPut || got.path != "/orders/7" || got.body != `{"n":1}` {
			t.Errorf("app saw %s %s %q", got.method, got.path, got.body)
		}
		want := map[string][]string{
			"X-Custom":              {"v"},
			"Content-Type":          {"application/json"},
			"Dapr-Caller-App-Id":    {"caller"},
			"Dapr-Caller-Namespace": {"ns1"},
			"Dapr-Callee-App-Id":    {"callee"},
			"X-Forwarded-For":       {"198.51.100.7", "192.0.2.2"},
			"X-Forwarded-Host":      {"vm"},
			"Forwarded":             {"for=198.51.100.7", "for=192.0.2.2;by=192.0.2.2;host=vm"},
		}
		for k, v := range want {
			if g := got.header.Values(k); strings.Join(g, "|") != strings.Join(v, "|") {
				t.Errorf("app header %s = %q, want %q", k, g, v)
			}
		}
		if v := got.header.Values("Destination-App-Id"); len(v) > 0 {
			t.Errorf("destination-app-id reached the app: %v", v)
		}
	})
}

func TestInvokeNamespacedAppID(t *testing.T) {
	var got seen
	addr := serve(t, NewServer(recordingApp(t, &got, 200, "ok"), nil))
	inv := newCaller(t, map[string]string{"callee.other": addr}, nil)
	resp, err := inv.Invoke(context.Background(), "callee.other", newRequest(t, http.MethodGet, "x", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if v := got.header.Get("Dapr-Callee-App-Id"); v != "callee" {
		t.Errorf("callee header = %q", v)
	}
}

func TestInvokeSelfGoesToLocalApp(t *testing.T) {
	var got seen
	res := &staticResolver{}
	inv := newCaller(t, nil, func(c *Config) {
		c.Local = recordingApp(t, &got, 200, "local")
		c.Resolver = res
	})
	for _, id := range []string{"caller", "caller.ns1"} {
		resp, err := inv.Invoke(context.Background(), id, newRequest(t, http.MethodPost, "m", "b", http.Header{"X-A": {"1"}}))
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != "local" {
			t.Errorf("body = %q", body)
		}
		if got.header.Get("X-A") != "1" || got.body != "b" {
			t.Errorf("app saw %v %q", got.header, got.body)
		}
		for _, k := range []string{"Dapr-Caller-App-Id", "Dapr-Caller-Namespace", "Dapr-Callee-App-Id", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded"} {
			if v := got.header.Values(k); len(v) > 0 {
				t.Errorf("self call carries %s: %v", k, v)
			}
		}
	}
	if res.calls != 0 {
		t.Errorf("self calls used the resolver %d times", res.calls)
	}
}

func TestInvokeSelfErrors(t *testing.T) {
	inv := newCaller(t, nil, nil)
	_, err := inv.Invoke(context.Background(), "caller", newRequest(t, http.MethodGet, "m", "", nil))
	if e := apierr.From(err); e.Code != "ERR_DIRECT_INVOKE" || e.Message != "failed to invoke, id: caller, err: app channel is not initialized" {
		t.Errorf("no channel: %v", e)
	}
	healthy := false
	inv = newCaller(t, nil, func(c *Config) {
		c.Local = funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
			return nil, errors.New("unused")
		})
		c.LocalHealthy = func() bool { return healthy }
	})
	_, err = inv.Invoke(context.Background(), "caller", newRequest(t, http.MethodGet, "m", "", nil))
	if e := apierr.From(err); e.HTTPStatus != 500 || !strings.HasSuffix(e.Message, "app is not in a healthy state") {
		t.Errorf("unhealthy: %v", e)
	}
}

// TestInvokeHTTPRoundTrip goes HTTP API request → Invoke → peer → app →
// WriteHTTP, checking that error statuses and bodies pass through.
func TestInvokeHTTPRoundTrip(t *testing.T) {
	app := newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":"no such thing"}`)
		case "/broken":
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "it broke")
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "query="+r.URL.RawQuery)
		}
	})
	addr := serve(t, NewServer(app, nil))
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	tests := []struct {
		path     string
		wantCode int
		wantBody string
		wantCT   string
	}{
		{"missing", 404, `{"error":"no such thing"}`, "application/json"},
		{"broken", 500, "it broke", ""},
		{"ok?x=1&y=2", 200, "query=x=1&y=2", "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1.0/invoke/callee/method/"+tt.path, nil)
			method, _, _ := strings.Cut(tt.path, "?")
			resp, err := inv.Invoke(r.Context(), "callee", RequestFromHTTP(r, method))
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			if err := WriteHTTP(rec, resp); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody || rec.Header().Get("Content-Type") != tt.wantCT {
				t.Errorf("got %d %q (%q)", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestInvokeTargetErrors(t *testing.T) {
	inv := newCaller(t, map[string]string{}, nil)
	tests := []struct {
		id, method, want string
	}{
		{"a.b.c", "m", "failed to invoke, id: a.b.c, err: invalid app id a.b.c"},
		{"app", "bad#frag", `failed to invoke, id: app, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: "bad#frag"`},
		{"app", "bad\x01", `failed to invoke, id: app, err: rpc error: code = InvalidArgument desc = invalid method: method contains forbidden character: "bad\x01"`},
		{"unknown", "m", "failed to invoke, id: unknown, err: resolve unknown: app unknown not found"},
	}
	for _, tt := range tests {
		req := newRequest(t, http.MethodGet, "m", "", nil)
		req.Message.Message.Method = tt.method
		_, err := inv.Invoke(context.Background(), tt.id, req)
		e := apierr.From(err)
		if e.Code != "ERR_DIRECT_INVOKE" || e.HTTPStatus != 500 || e.Message != tt.want {
			t.Errorf("%s/%q: got %d %s %q", tt.id, tt.method, e.HTTPStatus, e.Code, e.Message)
		}
	}
}

func TestNormalizeMethod(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"orders/1", "orders/1", false},
		{"../../etc/passwd", "etc/passwd", false},
		{"a/../b", "b", false},
		{"api//v1/./echo", "api/v1/echo", false},
		{"/echo", "echo", false},
		{"echo/", "echo", false},
		{"", "", false},
		{"q?x=1", "", true},
		{"nul\x00", "", true},
		{"del\x7f", "", true},
	}
	for _, tt := range tests {
		got, err := NormalizeMethod(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("NormalizeMethod(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestConn(t *testing.T) {
	addr := serve(t, NewServer(nil, nil))
	inv := newCaller(t, map[string]string{"peer": addr}, nil)
	conn, self, err := inv.Conn(context.Background(), "caller.ns1")
	if err != nil || !self || conn != nil {
		t.Errorf("self: %v %v %v", conn, self, err)
	}
	conn, self, err = inv.Conn(context.Background(), "peer")
	if err != nil || self || conn == nil {
		t.Fatalf("peer: %v %v %v", conn, self, err)
	}
	again, _, _ := inv.Conn(context.Background(), "peer")
	if again != conn {
		t.Error("connection not pooled")
	}
	if _, _, err := inv.Conn(context.Background(), "x.y.z"); err == nil {
		t.Error("bad id accepted")
	}
}
