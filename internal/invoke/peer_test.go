package invoke

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/protosplit"
	"github.com/outrigger/outrigger/internal/testutil"
)

// servePeer runs srv as a sidecar's internal port does: Dapr's internal
// gRPC API and the peer protocol on one listener.
func servePeer(t testing.TB, srv *Server) string {
	t.Helper()
	return servePeerOn(t, srv, listenTCP(t), nil)
}

// servePeerLocal is servePeer with the peer protocol also on a local
// socket, named in the hello answer, as a sidecar on Linux serves it.
func servePeerLocal(t testing.TB, srv *Server) string {
	t.Helper()
	return servePeerOn(t, srv, listenTCP(t), listenLocal(t))
}

// listenLocal opens a local socket as a sidecar does; the test is skipped
// where the system has none.
func listenLocal(t testing.TB) *localSocket {
	t.Helper()
	ln, name, err := ListenLocal()
	if err != nil {
		t.Fatal(err)
	}
	if ln == nil {
		t.Skip("no local sockets on this system: calls between sidecars stay on TCP")
	}
	return &localSocket{ln, name}
}

// localSocket is a local socket to serve the peer protocol on too.
type localSocket struct {
	ln   net.Listener
	name string
}

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// servePeerOn is servePeer on a given listener, and on local if set (as
// a sidecar serves its local socket: both protocols there too).
func servePeerOn(t testing.TB, srv *Server, lis net.Listener, local *localSocket) string {
	t.Helper()
	gs := grpc.NewServer(ServerOptions(0)...)
	internalsv1.RegisterServiceInvocationServer(gs, srv)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	listeners := []net.Listener{lis}
	if local != nil {
		RegisterPeerHello(gs, local.name)
		listeners = append(listeners, local.ln)
	} else {
		RegisterPeerHello(gs, "")
	}
	var splits []*protosplit.Split
	var runs []func() error
	for _, ln := range listeners {
		split := protosplit.New(ln, time.Minute)
		splits = append(splits, split)
		runs = append(runs,
			func() error { return gs.Serve(split.HTTP2()) },
			func() error { return hs.Serve(split.HTTP1()) },
			split.Serve)
	}
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = run()
		}()
	}
	t.Cleanup(func() {
		for _, split := range splits {
			_ = split.Close()
		}
		_ = hs.Close()
		gs.Stop()
		for range runs {
			<-done
		}
	})
	return lis.Addr().String()
}

// expectEcho posts body to the echo app "callee" through inv and checks
// that it comes back.
func expectEcho(t *testing.T, inv *Invoker, body string) {
	t.Helper()
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", body, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != body {
		t.Errorf("echo = %q, want %q", got, body)
	}
}

// waitPeer waits until inv calls addr over the peer protocol.
func waitPeer(t testing.TB, inv *Invoker, addr string) {
	t.Helper()
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the caller to switch to the peer protocol for "+addr, func() bool {
		return inv.speaksPeer(pc)
	})
}

// connectFunc serves srv as app id "callee" and returns a caller of it.
type connectFunc func(srv *Server) *Invoker

// eachTransport runs test over gRPC (as with a Dapr sidecar) and over the
// peer protocol (between Outrigger sidecars).
func eachTransport(t *testing.T, test func(t *testing.T, connect connectFunc)) {
	t.Run("grpc", func(t *testing.T) {
		test(t, func(srv *Server) *Invoker {
			addr := serve(t, srv)
			return newCaller(t, map[string]string{"callee": addr}, nil)
		})
	})
	t.Run("peer", func(t *testing.T) {
		test(t, func(srv *Server) *Invoker {
			addr := servePeer(t, srv)
			inv := newCaller(t, map[string]string{"callee": addr}, nil)
			waitPeer(t, inv, addr)
			return inv
		})
	})
	t.Run("peer-local", func(t *testing.T) {
		test(t, func(srv *Server) *Invoker {
			addr := servePeerLocal(t, srv)
			inv := newCaller(t, map[string]string{"callee": addr}, nil)
			waitPeer(t, inv, addr)
			if !callsLocalSocket(t, inv, addr) {
				t.Fatal("a peer on the same host is called over TCP; want its local socket")
			}
			return inv
		})
	})
}

// callsLocalSocket reports whether inv calls addr on its local socket.
func callsLocalSocket(t testing.TB, inv *Invoker, addr string) bool {
	t.Helper()
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	url := pc.peer.url.Load()
	return url != nil && strings.Contains(*url, localHostSuffix)
}

// A Dapr sidecar has no hello: it refuses it as Unimplemented, or, as
// daprd does, through its gRPC proxy.
func TestPeerNotUsedWithoutHello(t *testing.T) {
	for name, serveFunc := range map[string]func(testing.TB, internalsv1.ServiceInvocationServer) string{
		"unimplemented":            serve,
		"daprd 1.9 proxy refusal":  serveAsOldDaprd,
		"daprd 1.18 proxy refusal": serveAsDaprd18,
	} {
		t.Run(name, func(t *testing.T) { testPeerNotUsedWithoutHello(t, serveFunc) })
	}
}

func testPeerNotUsedWithoutHello(t *testing.T, serveFunc func(testing.TB, internalsv1.ServiceInvocationServer) string) {
	addr := serveFunc(t, NewServer(echoApp(t), nil))
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	inv.speaksPeer(pc)
	testutil.Eventually(t, 10*time.Second, "a peer without the hello to be marked as such", func() bool {
		return pc.peer.state.Load() == peerNo
	})
	expectEcho(t, inv, "over grpc")
}

func TestPeerNotUsedWhenTurnedOff(t *testing.T) {
	addr := servePeer(t, NewServer(echoApp(t), nil))
	inv := newCaller(t, map[string]string{"callee": addr}, func(c *Config) { c.NoPeerProtocol = true })
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	if inv.speaksPeer(pc) || pc.peer.state.Load() != peerUnknown {
		t.Fatal("the peer protocol is used although it is turned off")
	}
}

// TestPeerUnreachableGoesTheGRPCWay: a peer known to speak the protocol
// whose port now refuses connections gets daprd's retries and error.
func TestPeerUnreachableGoesTheGRPCWay(t *testing.T) {
	addr := deadAddr(t)
	inv := newCaller(t, map[string]string{"dead": addr}, nil)
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	pc.peer.speaks(addr)
	_, err = inv.Invoke(context.Background(), "dead", newRequest(t, http.MethodPost, "m", "body", nil))
	e := apierr.From(err)
	if e.HTTPStatus != 500 || !strings.HasPrefix(e.Message, "failed to invoke, id: dead, err: rpc error: code = Unavailable") {
		t.Errorf("error = %d %q", e.HTTPStatus, e.Message)
	}
	if s := pc.peer.state.Load(); s == peerYes {
		t.Error("the peer is still taken to speak the protocol; it should be asked again")
	}
}

func TestPeerDeadlineReachesTheCallee(t *testing.T) {
	app := funcChannel(func(ctx context.Context, _ *appchannel.Request) (*appchannel.Response, error) {
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	addr := servePeer(t, NewServer(app, nil))
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := inv.Invoke(ctx, "callee", newRequest(t, http.MethodGet, "slow", "", nil))
	if err == nil || strings.Contains(err.Error(), "no deadline") {
		t.Fatalf("error = %v, want the call cut off by its deadline", err)
	}
}

// A peer call carries no header nobody reads: no User-Agent on the
// request, no Date on the answer. Each would be written and parsed on
// every call.
func TestPeerCallsCarryNoUnreadHeaders(t *testing.T) {
	app := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
		return &appchannel.Response{
			Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}, Message: &commonv1.InvokeResponse{ContentType: "text/plain"}},
			Body:    io.NopCloser(strings.NewReader("pong")),
		}, nil
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := testutil.NewRecordingListener(lis)
	addr := servePeerOn(t, NewServer(app, nil), rec, nil)
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "ping", "ping", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "pong" {
		t.Fatalf("answer %q", got)
	}
	inb, outb := rec.Traffic()
	in, out := string(inb), string(outb)
	if !strings.Contains(in, peerPath) || !strings.Contains(out, peerInvokeType) {
		t.Fatalf("no peer call seen:\nin %q\nout %q", in, out)
	}
	if strings.Contains(in, "\r\nUser-Agent:") {
		t.Errorf("the request carries a User-Agent: %q", in)
	}
	if strings.Contains(out, "\r\nDate:") {
		t.Errorf("the answer carries a Date: %q", out)
	}
}

// TestPeerResponseCutShort: an app answer that fails after the head went
// out reaches the caller as a read error, never as a short clean body.
func TestPeerResponseCutShort(t *testing.T) {
	tests := []struct {
		name     string
		declared string // the app's Content-Length
		sent     int    // bytes the app's body yields before failing
	}{
		{"declared, within one chunk", "50000", 30 << 10},
		{"declared, over one chunk", "100000", 70 << 10},
		{"not declared", "", 70 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
				headers := map[string]*internalsv1.ListStringValue{}
				if tt.declared != "" {
					headers["content-length"] = &internalsv1.ListStringValue{Values: []string{tt.declared}}
				}
				return &appchannel.Response{
					Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}, Headers: headers},
					Body:    io.NopCloser(&failingReader{n: tt.sent, err: errors.New("app died")}),
				}, nil
			})
			addr := servePeer(t, NewServer(app, nil))
			inv := newCaller(t, map[string]string{"callee": addr}, nil)
			waitPeer(t, inv, addr)
			resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodGet, "m", "", nil))
			if err != nil {
				if !strings.Contains(err.Error(), "app died") {
					t.Errorf("error = %v, want the app's read error", err)
				}
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Errorf("read %d bytes and a clean end, want an error", n)
			}
		})
	}
}

func TestPeerTracingHooks(t *testing.T) {
	var injected, started atomic.Value
	srv := NewServer(echoApp(t), nil)
	srv.SetPeerTracing(PeerTracing{StartCallee: func(ctx context.Context, h http.Header, r *internalsv1.InternalInvokeRequest) (context.Context, func(error)) {
		started.Store(h.Get("Traceparent") + " " + r.GetMessage().GetMethod())
		return ctx, func(error) {}
	}})
	addr := servePeer(t, srv)
	inv := newCaller(t, map[string]string{"callee": addr}, func(c *Config) {
		c.PeerTracing.Inject = func(_ context.Context, h http.Header) {
			injected.Store(true)
			h.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		}
	})
	waitPeer(t, inv, addr)
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "orders/1", "x", nil))
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if injected.Load() != true {
		t.Error("the caller's trace context was not injected")
	}
	if got := started.Load(); got != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 orders/1" {
		t.Errorf("callee span started with %v", got)
	}
}

// TestPeerServerRefusesBadInput: what a stray HTTP client sends to the
// internal port gets a clear answer and reaches no app.
func TestPeerServerRefusesBadInput(t *testing.T) {
	var calls atomic.Int32
	app := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
		calls.Add(1)
		return nil, errors.New("must not be called")
	})
	addr := servePeer(t, NewServer(app, nil))
	tests := []struct {
		name, method, path, body string
		want                     int
		wantType                 string
	}{
		{"other path", http.MethodPost, "/v1.0/invoke/x/method/y", "", http.StatusNotFound, ""},
		{"GET", http.MethodGet, peerPath, "", http.StatusMethodNotAllowed, ""},
		{"no head", http.MethodPost, peerPath, "", http.StatusOK, peerStatusType},
		{"head past the body", http.MethodPost, peerPath, "\x00\x00\x01\x00abc", http.StatusOK, peerStatusType},
		{"head over the limit", http.MethodPost, peerPath, "\x7f\x00\x00\x00", http.StatusOK, peerStatusType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+addr+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want || (tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType) {
				t.Errorf("answer %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), tt.want, tt.wantType)
			}
			if tt.wantType == peerStatusType {
				_, err := peerResponse(resp)
				if err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
					t.Errorf("status = %v, want InvalidArgument", err)
				}
			}
		})
	}
	if calls.Load() != 0 {
		t.Errorf("the app was called %d times", calls.Load())
	}
}

// TestInvokeAnswerInMessageData: a gRPC app's answer arrives as bytes in
// the message; the caller gets them as the body, with the type URL kept.
func TestInvokeAnswerInMessageData(t *testing.T) {
	app := funcChannel(func(context.Context, *appchannel.Request) (*appchannel.Response, error) {
		return &appchannel.Response{Message: &internalsv1.InternalInvokeResponse{
			Status:  &internalsv1.Status{Code: 0},
			Message: &commonv1.InvokeResponse{Data: &anypb.Any{TypeUrl: "type.googleapis.com/x.Reply", Value: []byte("reply bytes")}, ContentType: "application/x-protobuf"},
		}}, nil
	})
	eachTransport(t, func(t *testing.T, connect connectFunc) {
		inv := connect(NewServer(app, nil))
		resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "in", nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, resp); got != "reply bytes" {
			t.Errorf("body = %q", got)
		}
		if d := resp.Message.GetMessage().GetData(); d.GetTypeUrl() != "type.googleapis.com/x.Reply" || len(d.GetValue()) != 0 {
			t.Errorf("message data = %v, want the type URL alone", d)
		}
	})
}
