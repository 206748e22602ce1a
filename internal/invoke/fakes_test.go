package invoke

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/nameresolution"
)

// handlerChannel is a fake app channel that serves requests with an
// http.Handler, streaming both bodies through pipes like a real HTTP app.
type handlerChannel struct {
	h  http.Handler
	wg sync.WaitGroup
	// A callee may still dispatch a call while the test's cleanup waits
	// (a server's Stop does not wait for its handlers): closed, set under
	// mu before the wait, refuses those, so no Add races the Wait.
	mu     sync.Mutex
	closed bool
}

func newHandlerChannel(t *testing.T, h http.HandlerFunc) *handlerChannel {
	c := &handlerChannel{h: h}
	t.Cleanup(c.close)
	return c
}

// close refuses further calls and waits for the running ones.
func (c *handlerChannel) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *handlerChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	m := req.Message.GetMessage()
	u := "/" + m.GetMethod()
	if q := m.GetHttpExtension().GetQuerystring(); q != "" {
		u += "?" + q
	}
	hr, err := http.NewRequestWithContext(ctx, httpVerb(m.GetHttpExtension().GetVerb()), u, req.Body)
	if err != nil {
		return nil, err
	}
	if hr.Body == nil {
		hr.Body = http.NoBody
	}
	for k, v := range req.Message.GetMetadata() {
		for _, s := range v.GetValues() {
			hr.Header.Add(k, s)
		}
	}
	if ct := m.GetContentType(); ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	pr, pw := io.Pipe()
	rw := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("the test has ended")
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		c.h.ServeHTTP(rw, hr)
		rw.WriteHeader(http.StatusOK)
		pw.Close()
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	return &appchannel.Response{
		Message: &internalsv1.InternalInvokeResponse{
			Status:  &internalsv1.Status{Code: int32(rw.code)},
			Headers: headerMetadata(rw.sent, 0),
			Message: &commonv1.InvokeResponse{ContentType: rw.sent.Get("Content-Type")},
		},
		Body: pr,
	}, nil
}

func (c *handlerChannel) GRPCConn() *grpc.ClientConn { return nil }
func (c *handlerChannel) Protocol() string           { return "http" }
func (c *handlerChannel) Close() error               { return nil }

// pipeResponse is an http.ResponseWriter whose body goes into a pipe.
type pipeResponse struct {
	header http.Header
	sent   http.Header
	code   int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{}
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

func (w *pipeResponse) Flush() {}

// funcChannel is a fake app channel answering with a function.
type funcChannel func(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error)

func (f funcChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	return f(ctx, req)
}
func (f funcChannel) GRPCConn() *grpc.ClientConn { return nil }
func (f funcChannel) Protocol() string           { return "grpc" }
func (f funcChannel) Close() error               { return nil }

// staticResolver maps "id" or "id.namespace" to addresses.
type staticResolver struct {
	mu    sync.Mutex
	addrs map[string]string
	calls int
}

func (r *staticResolver) Init(context.Context, nameresolution.Metadata) error { return nil }
func (r *staticResolver) Close() error                                        { return nil }

func (r *staticResolver) Resolve(_ context.Context, req nameresolution.Request) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if a, ok := r.addrs[req.ID+"."+req.Namespace]; ok {
		return a, nil
	}
	if a, ok := r.addrs[req.ID]; ok {
		return a, nil
	}
	return "", errors.New("app " + req.ID + " not found")
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// serve runs srv on a real gRPC server on 127.0.0.1:0 and returns its
// address.
func serve(t testing.TB, srv internalsv1.ServiceInvocationServer) string {
	t.Helper()
	gs := grpc.NewServer(ServerOptions(0)...)
	internalsv1.RegisterServiceInvocationServer(gs, srv)
	return serveGRPC(t, gs)
}

// serveGRPC serves gs on a free loopback port until the test ends.
func serveGRPC(t testing.TB, gs *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return lis.Addr().String()
}

// serveAsOldDaprd serves only srv's CallLocal, as daprd 1.9.6 does:
// every other method (CallLocalStream, the peer hello) reaches a gRPC
// proxy handler that refuses it as daprd's does, with code Unknown.
func serveAsOldDaprd(t testing.TB, srv internalsv1.ServiceInvocationServer) string {
	t.Helper()
	return serveAsDaprd(t, srv, "failed to proxy request: required metadata dapr-app-id not found", "CallLocal")
}

// serveAsDaprd18 serves srv's CallLocal and CallLocalStream, as daprd
// 1.18.3 does; its gRPC proxy refuses anything else (the peer hello) in
// its own words.
func serveAsDaprd18(t testing.TB, srv internalsv1.ServiceInvocationServer) string {
	t.Helper()
	return serveAsDaprd(t, srv, "cannot proxy request: missing dapr-callee-app-id or dapr-app-id metadata", "CallLocal", "CallLocalStream")
}

// serveAsDaprd serves the named methods of srv; a gRPC proxy handler
// refuses every other method with refusal (code Unknown), as daprd's does.
func serveAsDaprd(t testing.TB, srv internalsv1.ServiceInvocationServer, refusal string, methods ...string) string {
	t.Helper()
	refuse := func(any, grpc.ServerStream) error {
		return status.Error(codes.Unknown, refusal)
	}
	gs := grpc.NewServer(append(ServerOptions(0), grpc.UnknownServiceHandler(refuse))...)
	desc := internalsv1.ServiceInvocation_ServiceDesc
	desc.Methods = slices.DeleteFunc(slices.Clone(desc.Methods), func(m grpc.MethodDesc) bool { return !slices.Contains(methods, m.MethodName) })
	desc.Streams = slices.DeleteFunc(slices.Clone(desc.Streams), func(s grpc.StreamDesc) bool { return !slices.Contains(methods, s.StreamName) })
	gs.RegisterService(&desc, srv)
	return serveGRPC(t, gs)
}

// newCaller builds the caller sidecar's Invoker ("caller" in ns1) with
// the given peers.
func newCaller(t *testing.T, peers map[string]string, mod func(*Config)) *Invoker {
	t.Helper()
	cfg := Config{
		AppID:         "caller",
		Namespace:     "ns1",
		Resolver:      &staticResolver{addrs: peers},
		HostAddress:   "192.0.2.2",
		Hostname:      "vm",
		RetryInterval: 5e6, // 5ms keeps retry tests quick
	}
	if mod != nil {
		mod(&cfg)
	}
	inv := New(cfg)
	t.Cleanup(func() { _ = inv.Close() })
	return inv
}

// newRequest builds an invocation request as RequestFromHTTP would.
func newRequest(t *testing.T, verb, method, body string, header http.Header) *appchannel.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	hr, err := http.NewRequest(verb, "http://localhost/v1.0/invoke/x/method/"+method, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		hr.Header[k] = v
	}
	return RequestFromHTTP(hr, method)
}

func readBody(t *testing.T, resp *appchannel.Response) string {
	t.Helper()
	if resp.Body == nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
