package invoke

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
)

// genReader produces n deterministic bytes without holding them.
type genReader struct{ n, off int64 }

var pattern = func() []byte {
	b := make([]byte, 251*256) // a prime period, so chunks never align
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if rem := g.n - g.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	for n < len(p) {
		n += copy(p[n:], pattern[(g.off+int64(n))%251:])
	}
	g.off += int64(n)
	return n, nil
}

func genCRC(n int64) uint32 {
	h := crc32.NewIEEE()
	_, _ = io.Copy(h, &genReader{n: n})
	return h.Sum32()
}

// echoApp streams the request body back as it reads it.
func echoApp(t *testing.T) *handlerChannel {
	return newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(w, r.Body)
	})
}

func TestInvokeStreamsLargeBodiesBothWays(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		size := int64(256 << 20)
		if raceEnabled || testing.Short() {
			size = 32 << 20
		}
		inv := connect(NewServer(echoApp(t), nil))

		req := newRequest(t, http.MethodPost, "echo", "", nil)
		req.Body = &genReader{n: size}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse

		resp, err := inv.Invoke(context.Background(), "callee", req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := crc32.NewIEEE()
		buf := make([]byte, 32<<10)
		var total int64
		var peak uint64
		nextSample := int64(0)
		for {
			n, err := resp.Body.Read(buf)
			h.Write(buf[:n])
			total += int64(n)
			if total >= nextSample {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				nextSample += 16 << 20
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", total, err)
			}
		}
		if total != size || h.Sum32() != genCRC(size) {
			t.Fatalf("echoed %d bytes (crc %x), want %d (crc %x)", total, h.Sum32(), size, genCRC(size))
		}
		growth := int64(peak) - int64(base)
		t.Logf("streamed %d MiB each way; heap grew by at most %d MiB", size>>20, growth>>20)
		if growth > 64<<20 {
			t.Errorf("heap grew by %d MiB while streaming %d MiB: bodies are being buffered", growth>>20, size>>20)
		}
	})
}

func TestInvokeEventStreamIsNotBuffered(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		step := make(chan struct{})
		app := newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			<-step
			_, _ = io.WriteString(w, "data: 1\n\n")
			<-step
			_, _ = io.WriteString(w, "data: 2\n\n")
		})
		inv := connect(NewServer(app, nil))
		// Invoke returns while the app has not written any event yet.
		resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "events", "", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 64)
		for _, want := range []string{"data: 1\n\n", "data: 2\n\n"} {
			step <- struct{}{}
			n, err := io.ReadAtLeast(resp.Body, buf, len(want))
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
			}
		}
		if _, err := resp.Body.Read(buf); err != io.EOF {
			t.Errorf("end: %v", err)
		}
	})
}

func TestInvokeAppAnswersBeforeReadingBody(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		app := newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, "too big")
		})
		inv := connect(NewServer(app, nil))
		req := newRequest(t, http.MethodPost, "upload", "", nil)
		req.Body = &genReader{n: 64 << 20}
		resp, err := inv.Invoke(context.Background(), "callee", req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != "too big" || resp.Message.GetStatus().GetCode() != 413 {
			t.Errorf("got %d %q", resp.Message.GetStatus().GetCode(), body)
		}
	})
}

type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestInvokeRequestBodyReadError(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		app := newHandlerChannel(t, func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				w.WriteHeader(http.StatusBadRequest)
			}
		})
		inv := connect(NewServer(app, nil))
		req := newRequest(t, http.MethodPost, "upload", "", nil)
		req.Body = &failingReader{n: 200 << 10, err: errors.New("client went away")}
		resp, err := inv.Invoke(context.Background(), "callee", req)
		if err == nil {
			readBody(t, resp)
			t.Fatal("no error")
		}
		if e := apierr.From(err); e.HTTPStatus != 500 || !strings.Contains(e.Message, "client went away") {
			t.Errorf("error = %v", e)
		}
	})
}

// legacyPeer answers only CallLocal, as a sidecar that predates
// CallLocalStream does: the HTTP status in status.code and the whole body
// in message.data.
type legacyPeer struct {
	internalsv1.UnimplementedServiceInvocationServer
	calls atomic.Int32
}

func (p *legacyPeer) CallLocal(_ context.Context, in *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	p.calls.Add(1)
	body := in.GetMessage().GetData().GetValue()
	return &internalsv1.InternalInvokeResponse{
		Status: &internalsv1.Status{Code: http.StatusAccepted},
		Headers: map[string]*internalsv1.ListStringValue{
			"X-Caller": {Values: in.GetMetadata()[hdrCallerAppID].GetValues()},
			"X-Method": {Values: []string{in.GetMessage().GetMethod() + " " + in.GetMessage().GetHttpExtension().GetVerb().String()}},
		},
		Message: &commonv1.InvokeResponse{
			Data:        &anypb.Any{Value: []byte(strings.ToUpper(string(body)))},
			ContentType: "text/plain",
		},
	}, nil
}

// A peer without CallLocalStream gets CallLocal, whether it refuses the
// stream as Unimplemented or, as daprd does, through its gRPC proxy.
func TestInvokeFallsBackToCallLocal(t *testing.T) {
	for name, serveFunc := range map[string]func(testing.TB, internalsv1.ServiceInvocationServer) string{
		"unimplemented":       serve,
		"daprd proxy refusal": serveAsOldDaprd,
	} {
		t.Run(name, func(t *testing.T) { testFallsBackToCallLocal(t, serveFunc) })
	}
}

func testFallsBackToCallLocal(t *testing.T, serveFunc func(testing.TB, internalsv1.ServiceInvocationServer) string) {
	peer := &legacyPeer{}
	addr := serveFunc(t, peer)
	inv := newCaller(t, map[string]string{"old": addr}, nil)
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"small", 5, true},
		{"several chunks", 1 << 20, true},
		{"too large to replay", 5 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Repeat("a", tt.size)
			resp, err := inv.Invoke(context.Background(), "old", newRequest(t, http.MethodPut, "m", body, nil))
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), "too large") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readBody(t, resp)
			if got != strings.ToUpper(body) || resp.Message.GetStatus().GetCode() != http.StatusAccepted {
				t.Errorf("got %d, %d bytes", resp.Message.GetStatus().GetCode(), len(got))
			}
			if firstMD(resp.Message.GetHeaders(), "X-Caller") != "caller" || firstMD(resp.Message.GetHeaders(), "X-Method") != "m PUT" {
				t.Errorf("headers = %v", resp.Message.GetHeaders())
			}
			if len(resp.Message.GetMessage().GetData().GetValue()) != 0 {
				t.Error("body left in the message")
			}
		})
	}
	if peer.calls.Load() != 2 {
		t.Errorf("CallLocal calls = %d", peer.calls.Load())
	}
}

// flakyPeer fails the first calls with a code, then serves normally.
type flakyPeer struct {
	*Server
	failures int32
	code     codes.Code
	calls    atomic.Int32
}

func (p *flakyPeer) CallLocalStream(s internalsv1.ServiceInvocation_CallLocalStreamServer) error {
	if p.calls.Add(1) <= p.failures {
		// Take the first message before failing, so the caller's Send of
		// any body has surely succeeded: whether it may retry then depends
		// only on whether that message carried body bytes.
		_, _ = s.Recv()
		return status.Error(p.code, "not now")
	}
	return p.Server.CallLocalStream(s)
}

func TestInvokeRetriesUnavailable(t *testing.T) {
	var got seen
	peer := &flakyPeer{Server: NewServer(recordingApp(t, &got, 200, "finally"), nil), failures: 2, code: codes.Unavailable}
	addr := serve(t, peer)
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "finally" {
		t.Errorf("body = %q", b)
	}
	if peer.calls.Load() != 3 || got.method != http.MethodGet {
		t.Errorf("calls = %d, app saw %q", peer.calls.Load(), got.method)
	}

	// Once body bytes went out, a retry could repeat the call: none is made.
	peer.calls.Store(0)
	_, err = inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "payload", nil))
	if status.Code(err) == codes.OK || !strings.Contains(err.Error(), "Unavailable") || peer.calls.Load() != 1 {
		t.Errorf("with a body: %v after %d calls", err, peer.calls.Load())
	}
}

// flakyListener closes the first connections it accepts, as a peer that
// is still starting up would refuse them.
type flakyListener struct {
	net.Listener
	drop     int32
	accepted atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.accepted.Add(1) > l.drop {
			return c, nil
		}
		c.Close()
	}
}

func TestInvokeRetriesUnreachablePeerWithBody(t *testing.T) {
	var got seen
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &flakyListener{Listener: lis, drop: 2}
	gs := grpc.NewServer(ServerOptions(0)...)
	internalsv1.RegisterServiceInvocationServer(gs, NewServer(recordingApp(t, &got, 200, "up"), nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(fl)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})

	inv := newCaller(t, map[string]string{"callee": lis.Addr().String()}, func(c *Config) { c.RetryInterval = 50 * time.Millisecond })
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "payload", nil))
	if err != nil {
		t.Fatalf("after %d connections: %v", fl.accepted.Load(), err)
	}
	if b := readBody(t, resp); b != "up" || got.body != "payload" {
		t.Errorf("body = %q, app got %q", b, got.body)
	}
	if fl.accepted.Load() < 3 {
		t.Errorf("only %d connections", fl.accepted.Load())
	}
}

func TestInvokeRetryLimits(t *testing.T) {
	tests := []struct {
		name      string
		code      codes.Code
		wantCalls int32
		wantHTTP  int
	}{
		{"unavailable: 3 retries", codes.Unavailable, 4, 500},
		{"unauthenticated: 3 retries", codes.Unauthenticated, 4, 500},
		{"internal: no retry", codes.Internal, 1, 500},
		{"permission denied: 403", codes.PermissionDenied, 1, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := &flakyPeer{Server: NewServer(nil, nil), failures: 100, code: tt.code}
			addr := serve(t, peer)
			inv := newCaller(t, map[string]string{"callee": addr}, nil)
			_, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
			e := apierr.From(err)
			want := "failed to invoke, id: callee, err: rpc error: code = " + tt.code.String() + " desc = not now"
			if e.HTTPStatus != tt.wantHTTP || e.Code != "ERR_DIRECT_INVOKE" || e.Message != want {
				t.Errorf("error = %d %s %q", e.HTTPStatus, e.Code, e.Message)
			}
			if peer.calls.Load() != tt.wantCalls {
				t.Errorf("calls = %d, want %d", peer.calls.Load(), tt.wantCalls)
			}
		})
	}
}

func TestInvokeDeadPeerFailsFast(t *testing.T) {
	addr := deadAddr(t)
	inv := newCaller(t, map[string]string{"dead": addr}, nil)
	start := time.Now()
	_, err := inv.Invoke(context.Background(), "dead", newRequest(t, http.MethodPost, "m", "body", nil))
	took := time.Since(start)
	e := apierr.From(err)
	if e.HTTPStatus != 500 || !strings.HasPrefix(e.Message, "failed to invoke, id: dead, err: rpc error: code = Unavailable") {
		t.Errorf("error = %d %q", e.HTTPStatus, e.Message)
	}
	if took > 3*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestServerErrors(t *testing.T) {
	boom := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
		return nil, errors.New("connection refused")
	})
	tests := []struct {
		name string
		srv  *Server
		want string
	}{
		{"no channel", NewServer(nil, nil), "rpc error: code = Internal desc = app channel is not initialized"},
		{"unhealthy", NewServer(boom, func() bool { return false }), "rpc error: code = Internal desc = app is not in a healthy state"},
		{"channel error", NewServer(boom, nil), "rpc error: code = Internal desc = error invoking app channel: connection refused"},
	}
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				inv := connect(tt.srv)
				_, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
				if e := apierr.From(err); e.HTTPStatus != 500 || e.Message != "failed to invoke, id: callee, err: "+tt.want {
					t.Errorf("error = %d %q", e.HTTPStatus, e.Message)
				}
			})
		}
	})
}

// TestServerProtocol talks to the Server with a raw client, as another
// daprd would.
func TestServerProtocol(t *testing.T) {
	var got seen
	addr := serve(t, NewServer(recordingApp(t, &got, 200, "hi"), nil))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := internalsv1.NewServiceInvocationClient(conn)
	ctx := context.Background()

	newReq := func(method string) *internalsv1.InternalInvokeRequest {
		return &internalsv1.InternalInvokeRequest{Ver: internalsv1.APIVersion_V1, Message: &commonv1.InvokeRequest{
			Method: method, HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST}}}
	}
	callStream := func(msgs ...*internalsv1.InternalInvokeRequestStream) ([]*internalsv1.InternalInvokeResponseStream, error) {
		s, err := client.CallLocalStream(ctx)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if err := s.Send(m); err != nil {
				break
			}
		}
		_ = s.CloseSend()
		var out []*internalsv1.InternalInvokeResponseStream
		for {
			m, err := s.Recv()
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
			out = append(out, m)
		}
	}

	t.Run("chunks across messages", func(t *testing.T) {
		out, err := callStream(
			&internalsv1.InternalInvokeRequestStream{Request: newReq("../../a/b")},
			&internalsv1.InternalInvokeRequestStream{Payload: &commonv1.StreamPayload{Data: []byte("one "), Seq: 0}},
			&internalsv1.InternalInvokeRequestStream{Payload: &commonv1.StreamPayload{Data: []byte("two"), Seq: 1}},
		)
		if err != nil {
			t.Fatal(err)
		}
		if got.path != "/a/b" || got.body != "one two" {
			t.Errorf("app saw %q %q", got.path, got.body)
		}
		if len(out) == 0 || out[0].GetResponse().GetStatus().GetCode() != 200 {
			t.Fatalf("first message = %v", out)
		}
		var body []byte
		for i, m := range out {
			if i > 0 && m.GetResponse() != nil {
				t.Error("response repeated in a later message")
			}
			if p := m.GetPayload(); p != nil {
				body = append(body, p.GetData()...)
			}
		}
		if string(body) != "hi" {
			t.Errorf("response body = %q", body)
		}
	})
	t.Run("invalid method", func(t *testing.T) {
		_, err := callStream(&internalsv1.InternalInvokeRequestStream{Request: newReq("a?b")})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("out of order payload", func(t *testing.T) {
		_, err := callStream(
			&internalsv1.InternalInvokeRequestStream{Request: newReq("a"), Payload: &commonv1.StreamPayload{Data: []byte("x"), Seq: 3}},
		)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no request in first message", func(t *testing.T) {
		_, err := callStream(&internalsv1.InternalInvokeRequestStream{Payload: &commonv1.StreamPayload{Data: []byte("x")}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("unary CallLocal", func(t *testing.T) {
		req := newReq("unary")
		req.Message.Data = &anypb.Any{Value: []byte("data")}
		res, err := client.CallLocal(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if got.body != "data" || string(res.GetMessage().GetData().GetValue()) != "hi" || res.GetStatus().GetCode() != 200 {
			t.Errorf("app saw %q; response %v", got.body, res)
		}
	})
	t.Run("actors not implemented", func(t *testing.T) {
		_, err := client.CallActor(ctx, newReq("x"))
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("err = %v", err)
		}
	})
}

// TestInvokeGRPCAppStatus relays a gRPC app's error status to an HTTP
// caller as the mapped status with the status JSON.
func TestInvokeGRPCAppStatus(t *testing.T) {
	app := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
		return &appchannel.Response{Message: &internalsv1.InternalInvokeResponse{
			Status: &internalsv1.Status{Code: int32(codes.NotFound), Message: "no such order"},
		}}, nil
	})
	addr := serve(t, NewServer(app, nil))
	inv := newCaller(t, map[string]string{"grpcapp": addr}, nil)
	resp, err := inv.Invoke(context.Background(), "grpcapp", newRequest(t, http.MethodGet, "m", "", nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if err := WriteHTTP(rec, resp); err != nil {
		t.Fatal(err)
	}
	if body := strings.ReplaceAll(rec.Body.String(), " ", ""); rec.Code != 404 || body != `{"code":5,"message":"nosuchorder"}` {
		t.Errorf("got %d %s", rec.Code, rec.Body.String())
	}
}

// Answers without content, whatever Content-Length they declare (to HEAD,
// 204, 304), arrive whole with the app's status and headers. The peer
// protocol once read the declared length as the body's and failed.
func TestInvokeAnswersWithoutContent(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		inv := connect(NewServer(httpAppChannel(t, func(w http.ResponseWriter, r *http.Request) {
			code := http.StatusOK
			switch r.URL.Path {
			case "/none":
				code = http.StatusNoContent
			case "/same":
				code = http.StatusNotModified
			}
			w.Header().Set("Content-Length", "17")
			w.Header().Set("X-From-App", "yes")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, "seventeen bytes!!") // not sent: net/http drops it
		}), nil))
		tests := []struct {
			verb, method string
			code         int
		}{
			{http.MethodHead, "head", http.StatusOK},
			{http.MethodGet, "none", http.StatusNoContent},
			{http.MethodGet, "same", http.StatusNotModified},
		}
		for _, tt := range tests {
			t.Run(tt.method, func(t *testing.T) {
				resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, tt.verb, tt.method, "", nil))
				if err != nil {
					t.Fatal(err)
				}
				if body := readBody(t, resp); body != "" {
					t.Errorf("body = %q", body)
				}
				if c := resp.Message.GetStatus().GetCode(); c != int32(tt.code) {
					t.Errorf("status = %d, want %d", c, tt.code)
				}
				if firstMD(resp.Message.GetHeaders(), "x-from-app") != "yes" {
					t.Errorf("headers = %v", resp.Message.GetHeaders())
				}
			})
		}
	})
}

// httpAppChannel is a real HTTP app channel to an app serving h, so the
// app's answers go through net/http's rules, unlike handlerChannel.
func httpAppChannel(t *testing.T, h http.HandlerFunc) appchannel.Channel {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	ch, err := appchannel.New(context.Background(), appchannel.Config{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// Whatever shape an HTTP app's answer has, both transports relay its
// status, headers and body bytes unchanged.
func TestInvokeRelaysAppAnswersAsIs(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	gz := "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x00\x00\x00\xff\xff\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	tests := []struct {
		name    string
		serve   func(w http.ResponseWriter)
		status  int
		headers map[string][]string // lower-case keys, as the metadata has them
		body    string
	}{
		{"chunked, no length", func(w http.ResponseWriter) {
			for _, s := range []string{"one ", "two ", "three"} {
				_, _ = io.WriteString(w, s)
				w.(http.Flusher).Flush()
			}
		}, http.StatusOK, nil, "one two three"},
		{"compressed bytes stay compressed", func(w http.ResponseWriter) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
			_, _ = io.WriteString(w, gz)
		}, http.StatusOK, map[string][]string{"content-encoding": {"gzip"}}, gz},
		{"1 MiB with a length", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = io.WriteString(w, big)
		}, http.StatusOK, nil, big},
		{"empty with a zero length", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "0")
		}, http.StatusOK, nil, ""},
		{"created, with a location", func(w http.ResponseWriter) {
			w.Header().Set("Location", "/orders/7")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, "made")
		}, http.StatusCreated, map[string][]string{"location": {"/orders/7"}}, "made"},
		{"several cookies", func(w http.ResponseWriter) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
		}, http.StatusOK, map[string][]string{"set-cookie": {"a=1", "b=2"}}, ""},
		{"error status with a body", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "short and stout")
		}, http.StatusTeapot, nil, "short and stout"},
	}
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		serves := map[string]func(http.ResponseWriter){}
		for _, tt := range tests {
			serves["/"+strings.ReplaceAll(tt.name, " ", "-")] = tt.serve
		}
		inv := connect(NewServer(httpAppChannel(t, func(w http.ResponseWriter, r *http.Request) {
			serves[r.URL.Path](w)
		}), nil))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				method := strings.ReplaceAll(tt.name, " ", "-")
				resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, method, "", nil))
				if err != nil {
					t.Fatal(err)
				}
				if got := readBody(t, resp); got != tt.body {
					t.Errorf("body: %d bytes, want %d", len(got), len(tt.body))
				}
				if c := resp.Message.GetStatus().GetCode(); c != int32(tt.status) {
					t.Errorf("status = %d, want %d", c, tt.status)
				}
				for k, want := range tt.headers {
					if got := resp.Message.GetHeaders()[k].GetValues(); strings.Join(got, "|") != strings.Join(want, "|") {
						t.Errorf("header %s = %q, want %q", k, got, want)
					}
				}
			})
		}
	})
}

// Whatever shape a request has, both transports hand the HTTP app the
// same verb, query, headers and body bytes.
func TestInvokeRelaysRequestsAsIs(t *testing.T) {
	big := strings.Repeat("abcdefgh", 25<<10) // 200 KiB
	tests := []struct {
		name, verb, query, body string
		header                  http.Header
		unsized                 bool // the body's length is not declared
	}{
		{name: "head", verb: http.MethodHead},
		{name: "delete", verb: http.MethodDelete},
		{name: "options", verb: http.MethodOptions},
		{name: "get with a body", verb: http.MethodGet, body: "unusual"},
		{name: "query kept raw", verb: http.MethodGet, query: "a=1&b=x%20y&c=%2F&a=2"},
		{name: "repeated header", verb: http.MethodPost, body: "x", header: http.Header{"X-Many": {"1", "2"}}},
		{name: "compressed body", verb: http.MethodPost, body: "\x1f\x8b\x08\x00", header: http.Header{"Content-Encoding": {"gzip"}}},
		{name: "large, sized", verb: http.MethodPut, body: big},
		{name: "large, unsized", verb: http.MethodPut, body: big, unsized: true},
	}
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		type seenReq struct {
			verb, query, body string
			header            http.Header
		}
		var mu sync.Mutex
		seenBy := map[string]seenReq{}
		inv := connect(NewServer(httpAppChannel(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			seenBy[r.URL.Path] = seenReq{r.Method, r.URL.RawQuery, string(b), r.Header.Clone()}
			mu.Unlock()
		}), nil))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				method := strings.ReplaceAll(strings.ReplaceAll(tt.name, " ", "-"), ",", "")
				req := newRequest(t, tt.verb, method, tt.body, tt.header)
				req.Message.Message.HttpExtension.Querystring = tt.query
				if tt.unsized {
					req.Body = io.MultiReader(strings.NewReader(tt.body))
				}
				resp, err := inv.Invoke(context.Background(), "callee", req)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				mu.Lock()
				got := seenBy["/"+method]
				mu.Unlock()
				if got.verb != tt.verb || got.query != tt.query || got.body != tt.body {
					t.Errorf("app saw %s ?%s with %d body bytes, want %s ?%s with %d", got.verb, got.query, len(got.body), tt.verb, tt.query, len(tt.body))
				}
				for k, want := range tt.header {
					if g := got.header.Values(k); strings.Join(g, "|") != strings.Join(want, "|") {
						t.Errorf("app header %s = %q, want %q", k, g, want)
					}
				}
			})
		}
	})
}

// A caller that gives up cancels the app's request on the far side, over
// both transports: a slow app is not left working for nobody.
func TestInvokeCancelReachesTheApp(t *testing.T) {
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		arrived, cancelled := make(chan struct{}), make(chan struct{})
		inv := connect(NewServer(httpAppChannel(t, func(w http.ResponseWriter, r *http.Request) {
			// net/http notices a client gone only once the body is read.
			_, _ = io.ReadAll(r.Body)
			close(arrived)
			select {
			case <-r.Context().Done():
				close(cancelled)
			case <-time.After(10 * time.Second):
			}
		}), nil))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			resp, err := inv.Invoke(ctx, "callee", newRequest(t, http.MethodPost, "slow", "work", nil))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the app")
		}
		cancel()
		if err := <-errc; err == nil {
			t.Error("a cancelled call succeeded")
		}
		select {
		case <-cancelled:
		case <-time.After(5 * time.Second):
			t.Fatal("the app's request was not cancelled")
		}
	})
}
