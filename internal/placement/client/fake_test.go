package client

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/testutil"
)

// wait is the generous bound of every wait in these tests; quiet is how
// long a test watches for something that must not happen.
const (
	wait  = 10 * time.Second
	quiet = 150 * time.Millisecond
)

// fakePlacement is a placement service the test drives by hand: it hands
// every accepted stream to the test, which sends orders and reads the
// sidecar's messages.
type fakePlacement struct {
	v1pb.UnimplementedPlacementServer
	addr    string
	refuse  atomic.Bool // answer like a follower node
	streams chan *fakeStream
}

type fakeStream struct {
	first *v1pb.Host
	recv  chan *v1pb.Host
	send  chan *v1pb.PlacementOrder
	end   chan error
	done  chan struct{} // closed when the server side has returned
}

func startFake(t *testing.T) *fakePlacement {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePlacement{addr: lis.Addr().String(), streams: make(chan *fakeStream, 16)}
	srv := grpc.NewServer()
	v1pb.RegisterPlacementServer(srv, f)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return f
}

func (f *fakePlacement) ReportDaprStatus(stream v1pb.Placement_ReportDaprStatusServer) error {
	if f.refuse.Load() {
		return status.Error(codes.FailedPrecondition, "placement node p1 is not a leader; try another placement address")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	s := &fakeStream{
		first: first,
		recv:  make(chan *v1pb.Host, 256),
		send:  make(chan *v1pb.PlacementOrder, 16),
		end:   make(chan error, 1),
		done:  make(chan struct{}),
	}
	defer close(s.done)
	recvErr := make(chan error, 1)
	go func() {
		for {
			h, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case s.recv <- h:
			default: // a test that stopped reading; drop heartbeats
			}
		}
	}()
	f.streams <- s
	for {
		select {
		case o := <-s.send:
			if err := stream.Send(o); err != nil {
				return err
			}
		case err := <-s.end:
			return err
		case <-recvErr:
			return nil
		case <-stream.Context().Done():
			return nil
		}
	}
}

// accept waits for the next stream.
func (f *fakePlacement) accept(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case s := <-f.streams:
		return s
	case <-time.After(wait):
		t.Fatal("no stream from the sidecar")
		return nil
	}
}

// next returns the sidecar's next message.
func (s *fakeStream) next(t *testing.T) *v1pb.Host {
	t.Helper()
	select {
	case h := <-s.recv:
		return h
	case <-time.After(wait):
		t.Fatal("no message from the sidecar")
		return nil
	}
}

// expectAck waits for the acknowledgement op of version, skipping reports.
func (s *fakeStream) expectAck(t *testing.T, op v1pb.HostOperation, version uint64) {
	t.Helper()
	for {
		h := s.next(t)
		if h.GetOperation() == v1pb.HostOperation_REPORT {
			continue
		}
		if h.GetOperation() != op || h.Version == nil || h.GetVersion() != version {
			t.Fatalf("got %v version %v, want ack %v of version %d", h.GetOperation(), h.Version, op, version)
		}
		if h.GetId() == "" || h.GetNamespace() == "" {
			t.Fatalf("ack without app ID or namespace: %v", h)
		}
		return
	}
}

// noAck checks that no acknowledgement arrives for a while.
func (s *fakeStream) noAck(t *testing.T) {
	t.Helper()
	deadline := time.After(quiet)
	for {
		select {
		case h := <-s.recv:
			if h.GetOperation() != v1pb.HostOperation_REPORT {
				t.Fatalf("unexpected %v", h.GetOperation())
			}
		case <-deadline:
			return
		}
	}
}

func (s *fakeStream) order(op string, version uint64, tables *v1pb.PlacementTables) {
	s.send <- &v1pb.PlacementOrder{Operation: op, Version: version, Tables: tables}
}

// round runs a whole dissemination round.
func (s *fakeStream) round(t *testing.T, version uint64, tables *v1pb.PlacementTables) {
	t.Helper()
	s.order(opLock, version, nil)
	s.expectAck(t, v1pb.HostOperation_LOCK, version)
	s.order(opUpdate, version, tables)
	s.expectAck(t, v1pb.HostOperation_UPDATE, version)
	s.order(opUnlock, version, nil)
	s.expectAck(t, v1pb.HostOperation_UNLOCK, version)
}

// tables builds placement tables: actor type → host names (app "app-<name>").
func tables(factor int64, types map[string][]string) *v1pb.PlacementTables {
	t := &v1pb.PlacementTables{ReplicationFactor: factor, Entries: map[string]*v1pb.PlacementTable{}}
	for typ, hosts := range types {
		lm := map[string]*v1pb.Host{}
		for _, h := range hosts {
			lm[h] = &v1pb.Host{Name: h, Id: "app-" + h, Namespace: "default", Entities: []string{typ}}
		}
		t.Entries[typ] = &v1pb.PlacementTable{LoadMap: lm}
	}
	return t
}

// recorder is a TableListener that records its calls and can hold
// TableUpdated until released.
type recorder struct {
	mu      sync.Mutex
	updates int
	losses  int
	events  chan string
	gate    chan struct{} // nil: TableUpdated returns at once
	during  func()        // runs inside TableUpdated
}

func newRecorder() *recorder { return &recorder{events: make(chan string, 64)} }

func (r *recorder) TableUpdated(ctx context.Context) {
	r.mu.Lock()
	r.updates++
	gate, during := r.gate, r.during
	r.mu.Unlock()
	if during != nil {
		during()
	}
	r.events <- "updated"
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
}

func (r *recorder) PlacementLost(context.Context) {
	r.mu.Lock()
	r.losses++
	r.mu.Unlock()
	r.events <- "lost"
}

func (r *recorder) expect(t *testing.T, event string) {
	t.Helper()
	select {
	case got := <-r.events:
		if got != event {
			t.Fatalf("listener got %s, want %s", got, event)
		}
	case <-time.After(wait):
		t.Fatalf("listener never got %s", event)
	}
}

func (r *recorder) counts() (updates, losses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.updates, r.losses
}

// startClient runs a client against addrs until the test ends.
func startClient(t *testing.T, l actors.TableListener, change func(*Options), addrs ...string) *Client {
	t.Helper()
	opts := Options{
		Addresses:   addrs,
		HostAddress: "10.9.0.1",
		Port:        50002,
		AppID:       "myapp",
		Listener:    l,
	}
	if change != nil {
		change(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
	})
	return c
}

// lookupAsync runs LookupActor in the background.
func lookupAsync(c *Client, typ, id string) <-chan lookupResult {
	ch := make(chan lookupResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		h, err := c.LookupActor(ctx, typ, id)
		ch <- lookupResult{h, err}
	}()
	return ch
}

type lookupResult struct {
	host actors.Host
	err  error
}

func expectPending(t *testing.T, ch <-chan lookupResult) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("lookup returned %+v, %v while it should wait", r.host, r.err)
	case <-time.After(quiet):
	}
}

func expectResult(t *testing.T, ch <-chan lookupResult) lookupResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatal("lookup never returned")
		return lookupResult{}
	}
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, wait, what, cond)
}
