package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/appchannel"
)

const testToken = "app-secret"

// seen is one request as the fake app received it.
type seen struct {
	method  string
	path    string // escaped, as on the wire
	header  http.Header
	body    string
	hasBody bool
}

// fakeApp is an HTTP app that records requests and answers with reply.
type fakeApp struct {
	mu    sync.Mutex
	reqs  []seen
	reply http.HandlerFunc
}

func (f *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, seen{method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: string(b), hasBody: r.ContentLength != 0})
	reply := f.reply
	f.mu.Unlock()
	if reply == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	reply(w, r)
}

func (f *fakeApp) last(t *testing.T) seen {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the app received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// newHTTPApp starts a fake app and an HTTPApp calling it through a real
// app channel with an app token.
func newHTTPApp(t *testing.T, maxBody int64) (*HTTPApp, *fakeApp) {
	t.Helper()
	fa := &fakeApp{}
	srv := httptest.NewServer(fa)
	t.Cleanup(srv.Close)
	ch := newChannel(t, srv.URL, maxBody)
	return NewHTTP(ch, "myapp", nil), fa
}

func newChannel(t *testing.T, rawURL string, maxBody int64) appchannel.Channel {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, p, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(p)
	ch, err := appchannel.New(context.Background(), appchannel.Config{
		Protocol: "http", Address: host, Port: port, AppAPIToken: testToken, MaxResponseBodySize: maxBody,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return ch
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHTTPConfig(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	fa.reply = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"entities":["cart"],"actorIdleTimeout":"10m","reentrancy":{"enabled":true},
			"entitiesConfig":[{"entities":["cart"],"drainOngoingCallTimeout":"7s"}]}`)
	}
	cfg, err := a.Config(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Entities) != 1 || cfg.Entities[0] != "cart" || cfg.ActorIdleTimeout != 10*time.Minute || !cfg.Reentrancy.Enabled {
		t.Fatalf("config = %+v", cfg)
	}
	if len(cfg.EntitiesConfig) != 1 || cfg.EntitiesConfig[0].DrainOngoingCallTimeout != 7*time.Second {
		t.Fatalf("entitiesConfig = %+v", cfg.EntitiesConfig)
	}
	r := fa.last(t)
	if r.method != http.MethodGet || r.path != "/dapr/config" {
		t.Fatalf("request = %s %s, want GET /dapr/config", r.method, r.path)
	}
	for k, want := range map[string]string{"Dapr-App-Id": "myapp", "Content-Type": "application/json", "Dapr-Api-Token": testToken} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestHTTPConfigNoActors(t *testing.T) {
	for _, code := range []int{http.StatusNotFound, http.StatusInternalServerError, http.StatusMethodNotAllowed} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			a, fa := newHTTPApp(t, 0)
			fa.reply = func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				_, _ = io.WriteString(w, `{"entities":["cart"]}`)
			}
			cfg, err := a.Config(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Entities != nil {
				t.Fatalf("entities = %v, want none", cfg.Entities)
			}
		})
	}
}

func TestHTTPConfigUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more
	a := NewHTTP(newChannel(t, addr, 0), "myapp", nil)
	cfg, err := a.Config(testCtx(t))
	if err != nil || cfg.Entities != nil {
		t.Fatalf("Config = %+v, %v; want empty, nil", cfg, err)
	}
}

func TestHTTPConfigBadValue(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	fa.reply = func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"entities":["cart"],"entitiesConfig":[{"actorIdleTimeout":"forever"}]}`)
	}
	_, err := a.Config(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "entitiesConfig[0].actorIdleTimeout") {
		t.Fatalf("error = %v, want one naming entitiesConfig[0].actorIdleTimeout", err)
	}
}

func invokeRequest(actorType, actorID, method, contentType string, body []byte, md map[string][]string) *internalsv1.InternalInvokeRequest {
	m := make(map[string]*internalsv1.ListStringValue, len(md))
	for k, v := range md {
		m[k] = &internalsv1.ListStringValue{Values: v}
	}
	return &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Actor:    &internalsv1.Actor{ActorType: actorType, ActorId: actorID},
		Metadata: m,
		Message: &commonv1.InvokeRequest{
			Method:        method,
			ContentType:   contentType,
			Data:          &anypb.Any{Value: body},
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST},
		},
	}
}

func TestHTTPInvokeMethod(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	fa.reply = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Daprerrorresponseheader", "true")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "short and stout")
	}
	req := invokeRequest("my type", "a/b?c", "do/it now", "application/json", []byte(`{"x":1}`), map[string][]string{
		"x-custom":       {"v1"},
		"dapr-api-token": {"callers-own-token"},
		"traceparent":    {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	})
	resp, err := a.InvokeMethod(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != http.StatusTeapot {
		t.Errorf("status = %d, want 418", resp.GetStatus().GetCode())
	}
	if got := string(resp.GetMessage().GetData().GetValue()); got != "short and stout" {
		t.Errorf("body = %q", got)
	}
	if resp.GetMessage().GetContentType() != "text/plain" {
		t.Errorf("content type = %q", resp.GetMessage().GetContentType())
	}
	if v := resp.GetHeaders()["x-daprerrorresponseheader"].GetValues(); len(v) != 1 || v[0] != "true" {
		t.Errorf("headers = %v, want x-daprerrorresponseheader", resp.GetHeaders())
	}

	r := fa.last(t)
	if r.method != http.MethodPut {
		t.Errorf("verb = %s, want PUT", r.method)
	}
	if want := "/actors/my%20type/a%2Fb%3Fc/method/do/it%20now"; r.path != want {
		t.Errorf("path = %s, want %s", r.path, want)
	}
	if r.body != `{"x":1}` {
		t.Errorf("body = %q", r.body)
	}
	for k, want := range map[string]string{
		"Content-Type":   "application/json",
		"X-Custom":       "v1",
		"Dapr-Api-Token": testToken,
		"Traceparent":    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	} {
		if got := r.header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want [%q]", k, got, want)
		}
	}
	// The caller's request is left as it was.
	if req.GetMessage().GetMethod() != "do/it now" {
		t.Errorf("caller's method changed to %q", req.GetMessage().GetMethod())
	}
}

func TestHTTPInvokeMethodEmptyBody(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	// A stale content-length from the caller must not be trusted.
	req := invokeRequest("t", "1", "m", "", nil, map[string][]string{"content-length": {"12"}})
	resp, err := a.InvokeMethod(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus().GetCode() != http.StatusOK {
		t.Fatalf("status = %d", resp.GetStatus().GetCode())
	}
	if r := fa.last(t); r.body != "" || r.hasBody || r.header.Get("Content-Type") != "" {
		t.Fatalf("request = %+v, want no body and no content type", r)
	}
}

func TestHTTPInvokeMethodInvalid(t *testing.T) {
	a, _ := newHTTPApp(t, 0)
	for _, req := range []*internalsv1.InternalInvokeRequest{
		invokeRequest("t", "1", "../../dapr/config", "", nil, nil),
		invokeRequest("t", "1", "a/./b", "", nil, nil),
		invokeRequest("t", "1", "", "", nil, nil),
		invokeRequest("", "1", "m", "", nil, nil),
		{Message: &commonv1.InvokeRequest{Method: "m"}},
	} {
		if _, err := a.InvokeMethod(testCtx(t), req); err == nil {
			t.Errorf("InvokeMethod(%v) succeeded, want an error", req)
		}
	}
}

func TestHTTPInvokeMethodBodyLimit(t *testing.T) {
	a, fa := newHTTPApp(t, 16)
	fa.reply = func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 64))
	}
	_, err := a.InvokeMethod(testCtx(t), invokeRequest("t", "1", "m", "", nil, nil))
	if !errors.Is(err, appchannel.ErrBodyTooLarge) {
		t.Fatalf("error = %v, want ErrBodyTooLarge", err)
	}
}

func TestHTTPInvokeMethodUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	l.Close()
	a := NewHTTP(newChannel(t, addr, 0), "myapp", nil)
	if _, err := a.InvokeMethod(testCtx(t), invokeRequest("t", "1", "m", "", nil, nil)); err == nil {
		t.Fatal("InvokeMethod succeeded against a closed port")
	}
}

func TestHTTPTimerAndReminder(t *testing.T) {
	tests := []struct {
		name       string
		fire       func(a *HTTPApp) (bool, error)
		wantPath   string
		wantBody   string
		reply      http.HandlerFunc
		wantCancel bool
		wantErr    string
	}{
		{
			name: "timer",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Timer(context.Background(), "cart", "c/1", "tick tock", actors.TimerCall{Callback: "onTick", Data: []byte(`{"n": 1}`), DueTime: "5s", Period: "1m"})
			},
			wantPath: "/actors/cart/c%2F1/method/timer/tick%20tock",
			wantBody: `{"callback":"onTick","data":{"n":1},"dueTime":"5s","period":"1m"}`,
		},
		{
			name: "timer without data, cancelled",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Timer(context.Background(), "cart", "1", "t", actors.TimerCall{Callback: "cb", DueTime: "0s"})
			},
			wantPath:   "/actors/cart/1/method/timer/t",
			wantBody:   `{"callback":"cb","dueTime":"0s","period":""}`,
			reply:      func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Daprremindercancel", "true") },
			wantCancel: true,
		},
		{
			name: "reminder",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Reminder(context.Background(), "cart", "1", "r1", actors.ReminderCall{Data: []byte(`"hello"`), DueTime: "1s", Period: "R3/PT1S"})
			},
			wantPath: "/actors/cart/1/method/remind/r1",
			wantBody: `{"data":"hello","dueTime":"1s","period":"R3/PT1S"}`,
			reply:    func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Daprremindercancel", "false") },
		},
		{
			name: "reminder without data, cancelled",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Reminder(context.Background(), "cart", "1", "r2", actors.ReminderCall{DueTime: "1s"})
			},
			wantPath:   "/actors/cart/1/method/remind/r2",
			wantBody:   `{"dueTime":"1s","period":""}`,
			reply:      func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Daprremindercancel", "TRUE") },
			wantCancel: true,
		},
		{
			name: "app error",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Reminder(context.Background(), "cart", "1", "r3", actors.ReminderCall{})
			},
			wantPath: "/actors/cart/1/method/remind/r3",
			wantBody: `{"dueTime":"","period":""}`,
			reply: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("X-Daprremindercancel", "true") // ignored on an error
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "boom")
			},
			wantErr: "error from actor service: (500) boom",
		},
		{
			name: "method not found",
			fire: func(a *HTTPApp) (bool, error) {
				return a.Timer(context.Background(), "cart", "1", "t", actors.TimerCall{})
			},
			wantPath: "/actors/cart/1/method/timer/t",
			wantBody: `{"callback":"","dueTime":"","period":""}`,
			reply:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
			wantErr:  "(404)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, fa := newHTTPApp(t, 0)
			fa.reply = tt.reply
			cancel, err := tt.fire(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if cancel != tt.wantCancel {
				t.Errorf("cancel = %v, want %v", cancel, tt.wantCancel)
			}
			r := fa.last(t)
			if r.method != http.MethodPut || r.path != tt.wantPath {
				t.Errorf("request = %s %s, want PUT %s", r.method, r.path, tt.wantPath)
			}
			if r.body != tt.wantBody {
				t.Errorf("body = %s\nwant   %s", r.body, tt.wantBody)
			}
			if r.header.Get("Content-Type") != "application/json" || r.header.Get("Dapr-Api-Token") != testToken {
				t.Errorf("headers = %v", r.header)
			}
		})
	}
}

func TestHTTPTimerInvalidData(t *testing.T) {
	a, _ := newHTTPApp(t, 0)
	if _, err := a.Timer(context.Background(), "t", "1", "n", actors.TimerCall{Data: []byte("not json")}); err == nil {
		t.Fatal("Timer with invalid JSON data succeeded")
	}
}

func TestHTTPDeactivate(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	if err := a.Deactivate(testCtx(t), "cart", "id 1"); err != nil {
		t.Fatal(err)
	}
	r := fa.last(t)
	if r.method != http.MethodDelete || r.path != "/actors/cart/id%201" {
		t.Errorf("request = %s %s, want DELETE /actors/cart/id%%201", r.method, r.path)
	}
	if r.body != "" || r.header.Get("Content-Type") != "application/x-protobuf" || r.header.Get("Dapr-Api-Token") != testToken {
		t.Errorf("body %q, headers %v", r.body, r.header)
	}

	fa.reply = func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "nope")
	}
	if err := a.Deactivate(testCtx(t), "cart", "1"); err == nil || !strings.Contains(err.Error(), "(502) nope") {
		t.Fatalf("error = %v, want one with (502) nope", err)
	}
}

// TestHTTPInvokeMethodDefaultContentType: a gRPC caller's InvokeActor has
// no content type; the app is told the body is JSON, as Dapr does.
func TestHTTPInvokeMethodDefaultContentType(t *testing.T) {
	a, fa := newHTTPApp(t, 0)
	if _, err := a.InvokeMethod(testCtx(t), invokeRequest("t", "1", "m", "", []byte(`2`), nil)); err != nil {
		t.Fatal(err)
	}
	if r := fa.last(t); r.header.Get("Content-Type") != "application/json" || r.body != "2" {
		t.Fatalf("request = %+v, want the body as application/json", r)
	}
}
