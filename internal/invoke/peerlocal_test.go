package invoke

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/h1client"
	"github.com/outrigger/outrigger/internal/testutil"
)

// A peer on the same host is called on its local socket: the call's bytes
// arrive there, none on its TCP port but the gRPC hello.
func TestPeerOnTheSameHostIsCalledOnItsLocalSocket(t *testing.T) {
	local := listenLocal(t)
	tcp := testutil.NewRecordingListener(listenTCP(t))
	recLocal := testutil.NewRecordingListener(local.ln)
	addr := servePeerOn(t, NewServer(echoApp(t), nil), tcp, &localSocket{recLocal, local.name})
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	if !callsLocalSocket(t, inv, addr) {
		t.Fatal("the peer is called over TCP; want its local socket")
	}
	expectEcho(t, inv, "over the local socket")
	localIn, _ := recLocal.Traffic()
	tcpIn, _ := tcp.Traffic()
	if !bytes.Contains(localIn, []byte("POST "+peerPath)) {
		t.Errorf("the local socket received no call: %q", localIn)
	}
	if bytes.Contains(tcpIn, []byte("over the local socket")) {
		t.Error("the call's body went over TCP")
	}
}

// When a peer's local socket is gone (the peer stopped, or restarted with
// a new name), a call, even one streaming a body that cannot be sent
// twice, reaches the peer over TCP, and the peer is asked again.
func TestPeerCallWithoutTheLocalSocketGoesOverTCP(t *testing.T) {
	local := listenLocal(t)
	addr := servePeerOn(t, NewServer(echoApp(t), nil), listenTCP(t), local)
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	if !callsLocalSocket(t, inv, addr) {
		t.Fatal("the peer is called over TCP; want its local socket")
	}
	local.ln.Close()
	h1client.CloseIdleConnections(inv.peerClient)

	body := strings.Repeat("streamed ", 3*smallBody/9) // over one chunk: sent once, never replayed
	req := newRequest(t, http.MethodPost, "m", "", nil)
	req.Body = io.MultiReader(strings.NewReader(body)) // unsized
	resp, err := inv.Invoke(context.Background(), "callee", req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != body {
		t.Errorf("echo is %d bytes, want %d", len(got), len(body))
	}
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	if pc.peer.state.Load() == peerYes && callsLocalSocket(t, inv, addr) {
		t.Error("the peer is still called on its closed local socket")
	}
}

// gRPC calls to a peer on the same host (proxied gRPC, actors, calls
// before the hello) take its local socket too, once known.
func TestGRPCCallsToAPeerOnTheSameHostTakeItsLocalSocket(t *testing.T) {
	local := listenLocal(t)
	recLocal := testutil.NewRecordingListener(local.ln)
	addr := servePeerOn(t, NewServer(echoApp(t), nil), listenTCP(t), &localSocket{recLocal, local.name})
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	if _, _, err := inv.Conn(context.Background(), "callee"); err != nil {
		t.Fatal(err) // the first use asks the hello
	}
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "a gRPC connection over the local socket", func() bool { return pc.local.Load() != nil })
	conn, _, err := inv.Conn(context.Background(), "callee")
	if err != nil {
		t.Fatal(err)
	}
	if conn == pc.conn {
		t.Fatal("gRPC calls still take the TCP connection")
	}
	res, err := internalsv1.NewServiceInvocationClient(conn).CallLocal(context.Background(), &internalsv1.InternalInvokeRequest{
		Ver: internalsv1.APIVersion_V1,
		Message: &commonv1.InvokeRequest{Method: "m", Data: &anypb.Any{Value: []byte("over grpc, locally")},
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_POST}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.GetMessage().GetData().GetValue()); got != "over grpc, locally" {
		t.Errorf("echo = %q", got)
	}
	if in, _ := recLocal.Traffic(); !bytes.HasPrefix(in, []byte("PRI * HTTP/2.0")) {
		t.Errorf("the local socket received no gRPC connection: %.40q", in)
	}
}

// When a peer's local socket is gone (the peer stopped, or restarted with
// a new name), gRPC reaches it over TCP again and the peer is asked anew.
func TestGRPCLocalDialFallsBackToTCP(t *testing.T) {
	lis := listenTCP(t)
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := lis.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	t.Cleanup(func() { lis.Close() })
	pool := newConnPool(nil, &net.Dialer{})
	c := &pooledConn{addr: lis.Addr().String()}
	c.peer.speaks("x")
	conn, err := pool.localDialer(c, localSocketPrefix+strings.Repeat("0e", 16))(context.Background(), "ignored")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the peer's TCP port got no connection")
	}
	if c.peer.state.Load() != peerUnknown {
		t.Error("the peer is not asked again")
	}
}

// A gRPC connection replaced by a newer one is closed once no call uses
// it, never while calls run on it.
func TestReplacedLocalConnectionIsClosedWhenIdle(t *testing.T) {
	pool := newConnPool(dialOptions(Config{}), &net.Dialer{})
	defer pool.close()
	c := &pooledConn{addr: "127.0.0.1:1"}
	pool.useLocal(c, localSocketPrefix+strings.Repeat("01", 16), "a"+localHostSuffix+":0")
	first := c.local.Load()
	if first == nil {
		t.Fatal("no local connection")
	}
	pool.useLocal(c, localSocketPrefix+strings.Repeat("02", 16), "b"+localHostSuffix+":0")
	if c.local.Load() == first || c.local.Load() == nil {
		t.Fatal("the local connection was not replaced")
	}
	testutil.Eventually(t, 5*time.Second, "the idle replaced connection to be closed", func() bool {
		return first.GetState() == connectivity.Shutdown
	})
	pool.useLocal(c, "", "")
	if c.local.Load() != nil {
		t.Error("gRPC calls do not go back to TCP")
	}
}

// A call under way on a replaced connection finishes normally.
func TestCallOnReplacedLocalConnectionFinishes(t *testing.T) {
	local := listenLocal(t)
	entered, release := make(chan struct{}), make(chan struct{})
	app := funcChannel(func(ctx context.Context, _ *appchannel.Request) (*appchannel.Response, error) {
		close(entered)
		<-release
		return &appchannel.Response{Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: 200}, Message: &commonv1.InvokeResponse{}}}, nil
	})
	addr := servePeerOn(t, NewServer(app, nil), listenTCP(t), local)
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	pc, err := inv.conns.pooled(addr)
	if err != nil {
		t.Fatal(err)
	}
	old := pc.local.Load()
	if old == nil {
		t.Fatal("no gRPC connection over the local socket")
	}
	done := make(chan error, 1)
	go func() {
		_, err := internalsv1.NewServiceInvocationClient(old).CallLocal(context.Background(), &internalsv1.InternalInvokeRequest{
			Ver: internalsv1.APIVersion_V1, Message: &commonv1.InvokeRequest{Method: "slow", HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_GET}}})
		done <- err
	}()
	<-entered
	inv.conns.useLocal(pc, "", "") // replaced: calls go back to TCP
	time.Sleep(50 * time.Millisecond)
	if old.GetState() == connectivity.Shutdown {
		t.Fatal("the replaced connection was closed under a call")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the call on the replaced connection failed: %v", err)
	}
}

// A socket name the caller cannot reach (a peer in another network
// namespace, or on another host) leaves calls on the peer's TCP port.
func TestPeerWithUnreachableLocalSocketIsCalledOverTCP(t *testing.T) {
	lis := listenTCP(t)
	unreachable := localSocketPrefix + strings.Repeat("0f", 16)
	addr := servePeerOn(t, NewServer(echoApp(t), nil), lis, &localSocket{listenTCP(t), unreachable})
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	if callsLocalSocket(t, inv, addr) {
		t.Fatal("the caller took an unreachable local socket")
	}
	expectEcho(t, inv, "over tcp")
}

// Only names of the form a sidecar advertises are dialed: anything else
// (a path, another process's abstract name) is never connected to.
func TestLocalSocketID(t *testing.T) {
	hex32 := strings.Repeat("a1", 16)
	tests := []struct {
		name string
		ok   bool
	}{
		{localSocketPrefix + hex32, true},
		{"", false},
		{hex32, false},
		{"@" + localSocketPrefix + hex32, false},
		{localSocketPrefix + strings.ToUpper(hex32), false},
		{localSocketPrefix + hex32[:30], false},
		{localSocketPrefix + hex32 + "00", false},
		{localSocketPrefix + "../../tmp/" + hex32[:22], false},
		{"/tmp/" + localSocketPrefix + hex32, false},
	}
	for _, tt := range tests {
		id, ok := localSocketID(tt.name)
		if ok != tt.ok || (ok && id != hex32) {
			t.Errorf("localSocketID(%q) = %q, %v; want ok = %v", tt.name, id, ok, tt.ok)
		}
	}
}

// The hello's answer changed from Empty to a StringValue naming the local
// socket: sidecars of either kind still read each other's answer.
func TestHelloAnswerReadsAcrossVersions(t *testing.T) {
	named, err := proto.Marshal(wrapperspb.String(localSocketPrefix + strings.Repeat("ab", 16)))
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(named, &emptypb.Empty{}); err != nil {
		t.Errorf("an older caller cannot read the new answer: %v", err)
	}
	empty, err := proto.Marshal(&emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	got := &wrapperspb.StringValue{}
	if err := proto.Unmarshal(empty, got); err != nil || got.GetValue() != "" {
		t.Errorf("an older callee's answer reads as %q, %v; want no socket", got.GetValue(), err)
	}
}
