package appchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
)

// echoHandler reports what the app saw in response headers.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Path", r.URL.EscapedPath())
	w.Header().Set("X-Query", r.URL.RawQuery)
	w.Header().Set("Content-Type", "text/echo")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
}

func TestHTTPVerbsPathAndQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(echoHandler))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{Protocol: "HTTP"})
	if ch.Protocol() != "http" || ch.GRPCConn() != nil {
		t.Fatalf("protocol %q conn %v", ch.Protocol(), ch.GRPCConn())
	}
	tests := []struct {
		verb      commonv1.HTTPExtension_Verb
		method    string
		query     string
		wantVerb  string
		wantPath  string
		wantQuery string
	}{
		{commonv1.HTTPExtension_GET, "orders", "id=1&x=a%20b", "GET", "/orders", "id=1&x=a%20b"},
		{commonv1.HTTPExtension_POST, "a/b/c", "", "POST", "/a/b/c", ""},
		{commonv1.HTTPExtension_PUT, "put", "", "PUT", "/put", ""},
		{commonv1.HTTPExtension_DELETE, "del", "", "DELETE", "/del", ""},
		{commonv1.HTTPExtension_PATCH, "p", "", "PATCH", "/p", ""},
		{commonv1.HTTPExtension_OPTIONS, "o", "", "OPTIONS", "/o", ""},
		{commonv1.HTTPExtension_HEAD, "h", "", "HEAD", "/h", ""},
		{commonv1.HTTPExtension_NONE, "from-grpc", "", "POST", "/from-grpc", ""},
		{commonv1.HTTPExtension_GET, "with space", "", "GET", "/with%20space", ""},
		{commonv1.HTTPExtension_GET, "enc%2Fslash", "", "GET", "/enc%2Fslash", ""},
	}
	for _, tc := range tests {
		t.Run(tc.wantVerb+tc.wantPath, func(t *testing.T) {
			req := newTestRequest(tc.method, tc.verb, tc.query, "text/plain", nil, strings.NewReader("hi"))
			resp, err := ch.Invoke(context.Background(), req)
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			body := readAllClose(t, resp.Body)
			m := resp.Message
			if m.GetStatus().GetCode() != http.StatusCreated {
				t.Errorf("status %d", m.GetStatus().GetCode())
			}
			got := func(k string) string { return strings.Join(m.GetHeaders()[k].GetValues(), ",") }
			if got("x-method") != tc.wantVerb || got("x-path") != tc.wantPath || got("x-query") != tc.wantQuery {
				t.Errorf("app saw %s %s ?%s", got("x-method"), got("x-path"), got("x-query"))
			}
			if m.GetMessage().GetContentType() != "text/echo" {
				t.Errorf("content type %q", m.GetMessage().GetContentType())
			}
			if tc.verb != commonv1.HTTPExtension_HEAD && body != "hi" {
				t.Errorf("body %q", body)
			}
		})
	}
}

func TestHTTPHeaderForwarding(t *testing.T) {
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("X-Resp", "r1")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{AppAPIToken: "app-secret"})
	md := map[string][]string{
		"connection":           {"keep-alive, X-Nominated"},
		"x-nominated":          {"gone"},
		"keep-alive":           {"timeout=5"},
		"proxy-authorization":  {"Basic x"},
		"te":                   {"trailers"},
		"upgrade":              {"websocket"},
		"dapr-app-id":          {"target"},
		"dapr-api-token":       {"caller-token"},
		"content-type":         {"text/wrong"},
		":authority":           {"caller:50001"},
		":path":                {"/x"},
		"grpc-accept-encoding": {"gzip"},
		"grpc-trace-bin":       {"AAEC"},
		"traceparent":          {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"x-multi":              {"a", "b"},
		"dapr-caller-app-id":   {"caller"},
	}
	req := newTestRequest("h", commonv1.HTTPExtension_POST, "", "application/json", md, strings.NewReader("{}"))
	resp, err := ch.Invoke(context.Background(), req)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	readAllClose(t, resp.Body)

	want := map[string]string{
		"Content-Type":              "application/json",
		"Dapr-Api-Token":            "app-secret",
		"Dapr-Authority":            "caller:50001",
		"Dapr-Grpc-Accept-Encoding": "gzip",
		"Traceparent":               "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"X-Multi":                   "a,b",
		"Dapr-Caller-App-Id":        "caller",
	}
	for k, v := range want {
		if got := strings.Join(seen.Values(k), ","); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"X-Nominated", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade", "Dapr-App-Id", "Grpc-Trace-Bin", "Dapr-Grpc-Trace-Bin", "Grpc-Accept-Encoding"} {
		if v := seen.Values(k); len(v) > 0 {
			t.Errorf("header %s forwarded: %q", k, v)
		}
	}
	if v := resp.Message.GetHeaders()["x-resp"].GetValues(); len(v) != 1 || v[0] != "r1" {
		t.Errorf("response header x-resp = %q", v)
	}
}

func TestHTTPNoTokenNoContentType(t *testing.T) {
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{})
	md := map[string][]string{"dapr-api-token": {"caller-token"}, "content-type": {"text/plain"}}
	resp, err := ch.Invoke(context.Background(), newTestRequest("x", commonv1.HTTPExtension_GET, "", "", md, nil))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	readAllClose(t, resp.Body)
	if _, ok := seen["Dapr-Api-Token"]; ok {
		t.Errorf("caller token forwarded: %q", seen["Dapr-Api-Token"])
	}
	if _, ok := seen["Content-Type"]; ok {
		t.Errorf("content type sent without one: %q", seen["Content-Type"])
	}
}

// A call that names no verb (InvokeService without http_extension) never
// reaches an HTTP app: daprd refuses it the same way.
func TestHTTPRefusesCallWithoutVerb(t *testing.T) {
	called := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{})
	req := newTestRequest("x", commonv1.HTTPExtension_POST, "", "", nil, nil)
	req.Message.Message.HttpExtension = nil
	_, err := ch.Invoke(context.Background(), req)
	if status.Code(err) != codes.InvalidArgument || status.Convert(err).Message() != "missing HTTP extension field" {
		t.Fatalf("err = %v; want InvalidArgument \"missing HTTP extension field\"", err)
	}
	if called {
		t.Error("the app was called")
	}
}

func TestHTTPBodyLength(t *testing.T) {
	type seenReq struct {
		length int64
		te     []string
		body   string
	}
	var seen seenReq
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = seenReq{r.ContentLength, r.TransferEncoding, string(b)}
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{})
	tests := []struct {
		name       string
		md         map[string][]string
		body       io.Reader
		wantLen    int64
		wantChunks bool
	}{
		{"in-memory", nil, strings.NewReader("hello"), 5, false},
		{"stream with caller length", map[string][]string{"content-length": {"5"}}, io.MultiReader(strings.NewReader("hello")), 5, false},
		{"stream without length", nil, io.MultiReader(strings.NewReader("hello")), -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ch.Invoke(context.Background(), newTestRequest("b", commonv1.HTTPExtension_POST, "", "", tc.md, tc.body))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			readAllClose(t, resp.Body)
			chunked := len(seen.te) == 1 && seen.te[0] == "chunked"
			if seen.length != tc.wantLen || chunked != tc.wantChunks || seen.body != "hello" {
				t.Errorf("app saw length %d te %v body %q", seen.length, seen.te, seen.body)
			}
		})
	}
}

func TestHTTPProtocols(t *testing.T) {
	proto := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%d", r.ProtoMajor) }
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(proto))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetHTTP1(true)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	defer h2c.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(proto))
	defer tlsSrv.Close()

	tests := []struct {
		protocol string
		srv      *httptest.Server
		want     string
	}{
		{"h2c", h2c, "2"},
		{"http", h2c, "1"},
		{"https", tlsSrv, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.protocol, func(t *testing.T) {
			ch := newChannelFor(t, tc.srv, Config{Protocol: tc.protocol})
			resp, err := ch.Invoke(context.Background(), newTestRequest("p", commonv1.HTTPExtension_GET, "", "", nil, nil))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got := readAllClose(t, resp.Body); got != tc.want {
				t.Errorf("HTTP major version %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHTTPRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{})
	resp, err := ch.Invoke(context.Background(), newTestRequest("r", commonv1.HTTPExtension_GET, "", "", nil, nil))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	readAllClose(t, resp.Body)
	if c := resp.Message.GetStatus().GetCode(); c != http.StatusFound {
		t.Errorf("status %d, want 302", c)
	}
	if loc := resp.Message.GetHeaders()["location"].GetValues(); len(loc) != 1 || loc[0] != "/elsewhere" {
		t.Errorf("location %q", loc)
	}
	if hits.Load() != 1 {
		t.Errorf("app hit %d times", hits.Load())
	}
}

func TestHTTPResponseLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 100
		if r.URL.Path == "/exact" {
			n = 50
		}
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		_, _ = w.Write([]byte(strings.Repeat("x", n)))
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{MaxResponseBodySize: 50, MaxConcurrency: 1})
	call := func(method string) (*Response, error) {
		return ch.Invoke(context.Background(), newTestRequest(method, commonv1.HTTPExtension_GET, "", "", nil, nil))
	}

	if _, err := call("declared"); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("declared length over limit: err %v", err)
	}
	resp, err := call("chunked")
	if err != nil {
		t.Fatalf("chunked: %v", err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("chunked over limit: read err %v", err)
	}
	// With one slot, these calls also prove the slot was released above.
	resp, err = call("exact")
	if err != nil {
		t.Fatalf("exact: %v", err)
	}
	if got := readAllClose(t, resp.Body); len(got) != 50 {
		t.Errorf("exact: %d bytes", len(got))
	}
}

// TestHTTPStreamingBoundedMemory pushes 64 MiB each way and checks the heap
// does not grow with the body size.
func TestHTTPStreamingBoundedMemory(t *testing.T) {
	const size = 64 << 20
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		_, _ = io.Copy(w, &patternReader{n: size})
	}))
	defer srv.Close()
	ch := newChannelFor(t, srv, Config{})

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	})

	resp, err := ch.Invoke(context.Background(), newTestRequest("big", commonv1.HTTPExtension_POST, "", "application/octet-stream", nil, &patternReader{n: size}))
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("Invoke: %v", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(stop)
	wg.Wait()
	if err != nil || n != size || received.Load() != size {
		t.Fatalf("sent %d, app received %d, got back %d (err %v)", size, received.Load(), n, err)
	}
	t.Logf("heap in use: base %d KiB, peak %d KiB", base>>10, peak.Load()>>10)
	if p := peak.Load(); p > base && p-base > 16<<20 {
		t.Errorf("heap grew by %d MiB while streaming %d MiB", (p-base)>>20, size>>20)
	}
}

func TestHTTPConcurrencyLimit(t *testing.T) {
	var inFlight, maxInFlight atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(release)
	const limit = 2
	ch := newChannelFor(t, srv, Config{MaxConcurrency: limit})
	call := func(ctx context.Context, method string) (*Response, error) {
		return ch.Invoke(ctx, newTestRequest(method, commonv1.HTTPExtension_GET, "", "", nil, nil))
	}

	// Fill every slot with responses whose bodies are still open.
	var open []*Response
	for range limit {
		resp, err := call(context.Background(), "slow")
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		open = append(open, resp)
	}

	// The next caller queues and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := call(ctx, "fast")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("queued call: err %v, want deadline exceeded", err)
	}

	// Another queued caller proceeds once a body is closed.
	done := make(chan error, 1)
	go func() {
		resp, err := call(context.Background(), "fast")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("call ran while all slots were busy (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	// Checked while every slot is busy: once a body is closed, the app's
	// slow handler notices its cancellation a moment after the slot is
	// free, so the app may briefly count one call too many.
	if m := maxInFlight.Load(); m > limit {
		t.Errorf("app saw %d concurrent calls, limit %d", m, limit)
	}
	open[0].Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("queued call: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("queued call still waiting after a slot was freed")
	}
	open[1].Body.Close()
}

func TestHTTPUnreachableReleasesSlot(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	ch := newChannelFor(t, srv, Config{MaxConcurrency: 1, DialTimeout: time.Second})
	srv.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := ch.Invoke(ctx, newTestRequest("x", commonv1.HTTPExtension_GET, "", "", nil, nil))
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: err %v, want a connection error", i, err)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default protocol", Config{Port: 1}, true},
		{"grpcs", Config{Protocol: "GRPCS", Port: 1}, true},
		{"bad protocol", Config{Protocol: "ftp", Port: 1}, false},
		{"no port", Config{Protocol: "http"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := New(context.Background(), tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if ch != nil {
				ch.Close()
			}
		})
	}
}
