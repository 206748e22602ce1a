package invoke

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/testutil"
)

// A peer on the same host is called on its local socket: the call's bytes
// arrive there, none on its TCP port but the gRPC hello.
func TestPeerOnTheSameHostIsCalledOnItsLocalSocket(t *testing.T) {
	local, name, err := ListenLocal()
	if err != nil {
		t.Fatal(err)
	}
	if local == nil {
		t.Skip("no local sockets on this system: calls between sidecars stay on TCP")
	}
	tcp := testutil.NewRecordingListener(listenTCP(t))
	recLocal := testutil.NewRecordingListener(local)
	addr := servePeerOn(t, NewServer(echoApp(t), nil), tcp, &localSocket{recLocal, name})
	inv := newCaller(t, map[string]string{"callee": addr}, nil)
	waitPeer(t, inv, addr)
	if !callsLocalSocket(t, inv, addr) {
		t.Fatal("the peer is called over TCP; want its local socket")
	}
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "over the local socket", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "over the local socket" {
		t.Errorf("echo = %q", got)
	}
	localIn, _ := recLocal.Traffic()
	tcpIn, _ := tcp.Traffic()
	if !bytes.Contains(localIn, []byte("POST "+peerPath)) {
		t.Errorf("the local socket received no call: %q", localIn)
	}
	if bytes.Contains(tcpIn, []byte("over the local socket")) {
		t.Error("the call's body went over TCP")
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
	resp, err := inv.Invoke(context.Background(), "callee", newRequest(t, http.MethodPost, "m", "over tcp", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "over tcp" {
		t.Errorf("echo = %q", got)
	}
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
