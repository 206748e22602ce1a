package h1client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/testutil"
)

// countingFallback records the requests handed to the fallback.
type countingFallback struct {
	n      atomic.Int64
	closed atomic.Bool
}

func (f *countingFallback) RoundTrip(req *http.Request) (*http.Response, error) {
	f.n.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusTeapot, Body: http.NoBody, Request: req}, nil
}

func (f *countingFallback) CloseIdleConnections() { f.closed.Store(true) }

// server is an httptest server that counts the connections it accepted.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newTransport(t *testing.T) (*Transport, *countingFallback) {
	fb := &countingFallback{}
	tr := &Transport{Fallback: fb}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

func do(t *testing.T, tr http.RoundTripper, method, url string, body []byte, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, got
}

func TestRoundTripAnswers(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 200<<10)
	tests := []struct {
		name     string
		method   string
		path     string
		body     []byte
		handler  http.HandlerFunc
		status   int
		wantBody string
		header   string // a response header that must arrive: name=value
	}{
		{name: "get", method: "GET", path: "/a?b=c",
			handler: func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s %s", r.Method, r.URL.RequestURI()) },
			status:  200, wantBody: "GET /a?b=c"},
		{name: "post echo", method: "POST", path: "/echo", body: []byte(strings.Repeat("b", 1024)),
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Len", fmt.Sprint(r.ContentLength))
				b, _ := io.ReadAll(r.Body) // net/http's server drops an unread body once it answers
				w.Write(b)
			},
			status: 200, wantBody: strings.Repeat("b", 1024), header: "X-Len=1024"},
		{name: "escaped path kept", method: "GET", path: "/a%2Fb",
			handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.EscapedPath()) },
			status:  200, wantBody: "/a%2Fb"},
		{name: "head", method: "HEAD", path: "/",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Content-Length", "10") },
			status:  200, wantBody: ""},
		{name: "no content", method: "DELETE", path: "/",
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			status:  204, wantBody: ""},
		{name: "error status", method: "POST", path: "/", body: []byte("{}"),
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusConflict) },
			status:  409, wantBody: "nope\n"},
		{name: "chunked answer", method: "GET", path: "/",
			handler: func(w http.ResponseWriter, r *http.Request) {
				for i := range 3 {
					fmt.Fprintf(w, "part%d;", i)
					w.(http.Flusher).Flush()
				}
			},
			status: 200, wantBody: "part0;part1;part2;"},
		{name: "large answer", method: "GET", path: "/",
			handler: func(w http.ResponseWriter, r *http.Request) { w.Write(big) },
			status:  200, wantBody: string(big)},
		{name: "early hints skipped", method: "GET", path: "/",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</s.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				io.WriteString(w, "final")
			},
			status: 200, wantBody: "final"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, tc.handler)
			tr, fb := newTransport(t)
			for range 3 { // the same answer on a reused connection
				resp, got := do(t, tr, tc.method, srv.URL+tc.path, tc.body, nil)
				if resp.StatusCode != tc.status || string(got) != tc.wantBody {
					t.Fatalf("got %d %.40q (%d bytes), want %d %.40q (%d bytes)", resp.StatusCode, got, len(got), tc.status, tc.wantBody, len(tc.wantBody))
				}
				if name, value, ok := strings.Cut(tc.header, "="); ok && resp.Header.Get(name) != value {
					t.Fatalf("header %s = %q, want %q", name, resp.Header.Get(name), value)
				}
			}
			if n := fb.n.Load(); n != 0 {
				t.Fatalf("%d requests went to the fallback", n)
			}
			if n := srv.conns.Load(); n != 1 {
				t.Fatalf("server saw %d connections for 3 sequential calls, want 1 (keep-alive)", n)
			}
		})
	}
}

func TestFallbackTakesTheRest(t *testing.T) {
	tests := []struct {
		name  string
		build func() *http.Request
	}{
		{"https", func() *http.Request { r, _ := http.NewRequest("GET", "https://127.0.0.1:1/", nil); return r }},
		{"streamed body", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:1/", io.MultiReader(strings.NewReader("x")))
			r.ContentLength = 1
			return r
		}},
		{"body over the inline limit", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:1/", bytes.NewReader(make([]byte, DefaultMaxInlineBody+1)))
			return r
		}},
		{"expect continue", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:1/", strings.NewReader("x"))
			r.Header.Set("Expect", "100-continue")
			return r
		}},
		{"upgrade", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://127.0.0.1:1/", nil)
			r.Header.Set("Upgrade", "websocket")
			return r
		}},
		{"chunked request", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:1/", strings.NewReader("x"))
			r.TransferEncoding = []string{"chunked"}
			return r
		}},
		{"connect", func() *http.Request { r, _ := http.NewRequest("CONNECT", "http://127.0.0.1:1/", nil); return r }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, fb := newTransport(t)
			resp, err := tr.RoundTrip(tc.build())
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusTeapot || fb.n.Load() != 1 {
				t.Fatalf("status %d, fallback calls %d: want the fallback's answer", resp.StatusCode, fb.n.Load())
			}
		})
	}
}

// hijackAfter answers with a complete response and then closes the
// connection without saying so, as a server dropping an idle keep-alive
// connection does.
func hijackAfter(w http.ResponseWriter, _ *http.Request) {
	conn, bw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	bw.Flush()
	conn.Close()
}

func TestPeerClosedIdleConnectionIsNotUsed(t *testing.T) {
	srv := newServer(t, hijackAfter)
	tr, _ := newTransport(t)
	for i := range 3 {
		// POST is not replayable: only the idle check keeps it off the
		// dead connection.
		resp, got := do(t, tr, "POST", srv.URL, []byte("x"), nil)
		if resp.StatusCode != 200 || string(got) != "ok" {
			t.Fatalf("call %d: %d %q", i, resp.StatusCode, got)
		}
		if srv.conns.Load() != int64(i+1) {
			t.Fatalf("call %d: %d connections, want %d: a closed one was reused", i, srv.conns.Load(), i+1)
		}
		// The next call must find the close already here: otherwise it
		// races the server's FIN, as with any client.
		waitIdleClosed(t, tr, srv.Listener.Addr().String(), func(c net.Conn) net.Conn { return c })
	}
}

// The idle check runs before every reuse, so it must cost its one system
// call and nothing more.
func TestIdleCheckAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	c := newConn(nil, ln.Addr().String(), nc)
	if !c.alive() {
		t.Fatal("an open idle connection looks dead")
	}
	if allocs := testing.AllocsPerRun(100, func() { c.alive() }); allocs != 0 {
		t.Fatalf("%.1f allocations per idle check, want 0", allocs)
	}
	server.Close()
	testutil.Eventually(t, 10*time.Second, "the idle check to see the close", func() bool { return !c.alive() })
}

// hiddenConn hides the socket so the idle check cannot peek, to reach the
// retry rules.
type hiddenConn struct{ net.Conn }

func TestRetryOnReusedConnection(t *testing.T) {
	tests := []struct {
		method  string
		hdr     http.Header
		wantErr bool
	}{
		{method: "GET"},
		{method: "POST", hdr: http.Header{"Idempotency-Key": {"k1"}}},
		{method: "POST", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.method+fmt.Sprint(len(tc.hdr)), func(t *testing.T) {
			srv := newServer(t, hijackAfter)
			tr, _ := newTransport(t)
			d := &net.Dialer{}
			tr.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				return hiddenConn{c}, err
			}
			do(t, tr, tc.method, srv.URL, []byte("x"), tc.hdr)
			waitIdleClosed(t, tr, srv.Listener.Addr().String(), func(c net.Conn) net.Conn { return c.(hiddenConn).Conn })
			req, _ := http.NewRequest(tc.method, srv.URL, bytes.NewReader([]byte("x")))
			for k, v := range tc.hdr {
				req.Header[k] = v
			}
			resp, err := tr.RoundTrip(req)
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("a non-replayable call on a connection the server had closed succeeded; it must fail rather than risk a second delivery")
				}
				return
			}
			if err != nil {
				t.Fatalf("replayable call not retried on a fresh connection: %v", err)
			}
			resp.Body.Close()
		})
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	tr, _ := newTransport(t)
	do(t, tr, "GET", srv.URL+"/fast", nil, nil)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/slow", strings.NewReader("x"))
	errc := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return after its context was canceled")
	}
	// The cancelled call's connection is not reused.
	resp, got := do(t, tr, "GET", srv.URL+"/fast", nil, nil)
	if resp.StatusCode != 200 || string(got) != "ok" || srv.conns.Load() != 2 {
		t.Fatalf("after cancel: %d %q, %d connections (want 2)", resp.StatusCode, got, srv.conns.Load())
	}
}

func TestCancelWhileReadingBody(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "head")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	tr, _ := newTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("reading the rest after cancel: %v, want context.Canceled", err)
	}
}

func TestEarlyCloseDropsConnection(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 1<<20))
	})
	tr, _ := newTransport(t)
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 10))
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	do(t, tr, "GET", srv.URL, nil, nil)
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a half-read answer's connection must not be reused", n)
	}
}

func TestConnectionCloseAnswered(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	tr, _ := newTransport(t)
	for range 2 {
		if _, got := do(t, tr, "GET", srv.URL, nil, nil); string(got) != "bye" {
			t.Fatalf("got %q", got)
		}
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 after Connection: close", n)
	}
}

func TestAnswerWithoutLengthReadToClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil close")
			}()
		}
	}()
	tr, _ := newTransport(t)
	for range 2 {
		if _, got := do(t, tr, "GET", "http://"+ln.Addr().String()+"/", nil, nil); string(got) != "until close" {
			t.Fatalf("got %q", got)
		}
	}
}

func TestResponseHeaderLimit(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("h", 8<<10))
	})
	tr, _ := newTransport(t)
	tr.MaxResponseHeaderBytes = 4 << 10
	req, _ := http.NewRequest("GET", srv.URL, nil)
	_, err := tr.RoundTrip(req)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("got %v, want a header-size error", err)
	}
}

func TestIdleTimeoutAndClose(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, fb := newTransport(t)
	tr.IdleTimeout = time.Microsecond
	do(t, tr, "GET", srv.URL, nil, nil)
	time.Sleep(time.Millisecond)
	do(t, tr, "GET", srv.URL, nil, nil)
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2: a connection idle past IdleTimeout must not be reused", n)
	}
	tr.CloseIdleConnections()
	if !fb.closed.Load() {
		t.Fatal("CloseIdleConnections did not reach the fallback")
	}
	tr.IdleTimeout = 0
	do(t, tr, "GET", srv.URL, nil, nil)
	if n := srv.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3 after CloseIdleConnections", n)
	}
}

func TestDialFailure(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	tr, _ := newTransport(t)
	req, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader("x"))
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("a call to a closed port succeeded")
	}
}

func TestConcurrentCallsShareThePool(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	tr, _ := newTransport(t)
	tr.MaxIdlePerHost = 4
	const workers, calls = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				body := fmt.Sprintf("w%d-c%d", w, i)
				req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != body {
					errs <- fmt.Errorf("got %q, %v; want %q", got, err, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tr.mu.Lock()
	idle := len(tr.idle[srv.Listener.Addr().String()])
	tr.mu.Unlock()
	if idle > 4 {
		t.Fatalf("%d idle connections kept, want at most MaxIdlePerHost=4", idle)
	}
	if n := srv.conns.Load(); n > workers*2 {
		t.Fatalf("%d connections for %d workers: connections are not being reused", n, workers)
	}
}

// waitIdleClosed waits until the pooled connection to addr has seen its
// peer's close; socket picks the real socket out of a wrapped one.
func waitIdleClosed(t *testing.T, tr *Transport, addr string, socket func(net.Conn) net.Conn) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "the idle connection to see its peer's close", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		conns := tr.idle[addr]
		if len(conns) != 1 {
			return false
		}
		var p peeker
		p.init(socket(conns[0].nc))
		return !p.peerOpen()
	})
}
