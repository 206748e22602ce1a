package actors

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
)

// peerServer serves the internal actor methods of one runtime.
type peerServer struct {
	internalsv1.UnimplementedServiceInvocationServer
	rt    *Runtime
	stuck bool
}

func (s *peerServer) CallActor(ctx context.Context, in *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	if s.stuck {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.rt.CallActor(ctx, in)
}

func (s *peerServer) CallActorReminder(ctx context.Context, in *internalsv1.Reminder) (*emptypb.Empty, error) {
	return s.rt.CallActorReminder(ctx, in)
}

// cluster connects runtimes by host name over in-memory gRPC.
type cluster struct {
	t     *testing.T
	conns map[string]*grpc.ClientConn
}

func newCluster(t *testing.T) *cluster { return &cluster{t: t, conns: map[string]*grpc.ClientConn{}} }

func (c *cluster) serve(name string, srv *peerServer) {
	ln := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	internalsv1.RegisterServiceInvocationServer(s, srv)
	go func() { _ = s.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///"+name, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }))
	if err != nil {
		c.t.Fatal(err)
	}
	c.conns[name] = conn
	c.t.Cleanup(func() { _ = conn.Close(); s.Stop() })
}

func (c *cluster) dial(_ context.Context, addr string) (grpc.ClientConnInterface, error) {
	conn, ok := c.conns[addr]
	if !ok {
		return nil, errors.New("unknown host " + addr)
	}
	return conn, nil
}

const remoteHost = "10.0.0.2:50002"

func TestForwardToOwner(t *testing.T) {
	c := newCluster(t)
	owner := func(string, string) (Host, error) { return Host{Name: remoteHost}, nil }

	remoteApp := &fakeApp{}
	remote := newHarness(t, remoteApp, func(cfg *Config) { cfg.HostName = remoteHost; cfg.Dial = c.dial })
	remote.pl.setOwner(owner)
	c.serve(remoteHost, &peerServer{rt: remote.rt})

	localApp := &fakeApp{}
	local := newHarness(t, localApp, func(cfg *Config) { cfg.Dial = c.dial })
	local.pl.setOwner(owner)

	resp, err := local.rt.Invoke(context.Background(), actorCall("counter", "f", "m", []byte(`"hi"`)))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.GetMessage().GetData().GetValue()) != `"hi"` {
		t.Fatalf("body = %q", resp.GetMessage().GetData().GetValue())
	}
	if remote.rt.table.get("counter", "f") == nil || local.rt.table.get("counter", "f") != nil {
		t.Fatal("the actor must be active on its owner only")
	}

	// Reminders are delivered on the owner too.
	if _, err := local.rt.FireReminder(context.Background(), "counter", "f", "wake", ReminderCall{Data: []byte(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := remoteApp.snapshot(&remoteApp.reminders); !slices.Equal(got, []string{"counter/f/wake"}) {
		t.Fatalf("remote reminders = %v", got)
	}
	if len(localApp.snapshot(&localApp.reminders)) != 0 {
		t.Fatal("reminder fired on a host that does not own the actor")
	}
}

func TestForwardRelaysAppErrorsAndStackDepth(t *testing.T) {
	c := newCluster(t)
	owner := func(string, string) (Host, error) { return Host{Name: remoteHost}, nil }
	remoteApp := &fakeApp{}
	remoteApp.invoke = func(ctx context.Context, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
		r := okResponse([]byte("bad input"))
		r.Status.Code = 400
		r.Headers = map[string]*internalsv1.ListStringValue{"X-Daprerrorresponseheader": {Values: []string{"1"}}}
		return r, nil
	}
	remote := newHarness(t, remoteApp, func(cfg *Config) { cfg.HostName = remoteHost })
	remote.pl.setOwner(owner)
	c.serve(remoteHost, &peerServer{rt: remote.rt})
	local := newHarness(t, &fakeApp{}, func(cfg *Config) { cfg.Dial = c.dial })
	local.pl.setOwner(owner)

	_, err := local.rt.Invoke(context.Background(), actorCall("counter", "e", "m", nil))
	ae, ok := IsActorError(err)
	if !ok {
		t.Fatalf("err = %v, want actor error", err)
	}
	if ae.Response.GetStatus().GetCode() != 400 || string(ae.Response.GetMessage().GetData().GetValue()) != "bad input" {
		t.Fatalf("relayed response = %v", ae.Response)
	}
}

func TestForwardReroutesWhenOwnerChanged(t *testing.T) {
	c := newCluster(t)
	// The remote thinks the local host owns the actor; the local host
	// first thinks the remote does, then learns better.
	remote := newHarness(t, &fakeApp{}, func(cfg *Config) { cfg.HostName = remoteHost })
	c.serve(remoteHost, &peerServer{rt: remote.rt})
	remote.pl.setOwner(func(string, string) (Host, error) { return Host{Name: selfHost}, nil })

	localApp := &fakeApp{}
	local := newHarness(t, localApp, func(cfg *Config) { cfg.Dial = c.dial })
	calls := 0
	local.pl.setOwner(func(string, string) (Host, error) {
		calls++
		if calls == 1 {
			return Host{Name: remoteHost}, nil
		}
		return Host{Name: selfHost}, nil
	})
	if _, err := local.rt.Invoke(context.Background(), actorCall("counter", "moved", "m", nil)); err != nil {
		t.Fatal(err)
	}
	if local.rt.table.get("counter", "moved") == nil {
		t.Fatal("the call did not land on the new owner")
	}
}

func TestStuckPeerFailsOnlyItsOwnCalls(t *testing.T) {
	c := newCluster(t)
	const stuckHost = "10.0.0.3:50002"
	c.serve(stuckHost, &peerServer{stuck: true})
	remote := newHarness(t, &fakeApp{}, func(cfg *Config) { cfg.HostName = remoteHost })
	remote.pl.setOwner(func(string, string) (Host, error) { return Host{Name: remoteHost}, nil })
	c.serve(remoteHost, &peerServer{rt: remote.rt})

	// The timeout bounds every forwarded call, the healthy ones too: it
	// must leave room for a slow machine under the race detector (200 ms
	// did not, once), while the stuck call is still outstanding as the
	// healthy ones run.
	local := newHarness(t, &fakeApp{}, func(cfg *Config) { cfg.Dial = c.dial; cfg.ForwardTimeout = 2 * time.Second })
	local.pl.setOwner(func(typ, _ string) (Host, error) {
		if typ == "other" {
			return Host{Name: stuckHost}, nil
		}
		return Host{Name: remoteHost}, nil
	})
	stuckDone := make(chan error, 1)
	go func() {
		_, err := local.rt.Invoke(context.Background(), actorCall("other", "1", "m", nil))
		stuckDone <- err
	}()
	for i := range 20 {
		if _, err := local.rt.Invoke(context.Background(), actorCall("counter", string(rune('a'+i)), "m", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-stuckDone; err == nil {
		t.Fatal("a call to a stuck peer succeeded")
	}
}
