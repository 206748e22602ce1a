package placement

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/testutil"
)

// waitFor is the generous deadline of every poll in these tests.
const waitFor = 20 * time.Second

// node is a running Service in a test.
type node struct {
	svc    *Service
	addr   string
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // what Run returned
}

// stop ends the node and waits for Run to return.
func (n *node) stop(t testing.TB) {
	t.Helper()
	n.cancel()
	select {
	case <-n.done:
		if n.err != nil && !errors.Is(n.err, context.Canceled) {
			t.Errorf("Run returned %v", n.err)
		}
	case <-time.After(waitFor):
		t.Fatal("placement node did not stop")
	}
}

// startNode runs a Service with opts on a loopback port ("" picks one).
func startNode(t testing.TB, opts Options, addr string) *node {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostGracePeriod == 0 {
		opts.HostGracePeriod = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	if testing.Verbose() && opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	n := &node{svc: New(opts), addr: lis.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		n.err = n.svc.Run(ctx, lis)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-n.done:
		case <-time.After(waitFor):
		}
	})
	return n
}

// startLeader runs a single in-memory node and waits until it leads.
func startLeader(t testing.TB, opts Options) *node {
	t.Helper()
	n := startNode(t, opts, "")
	eventually(t, "node becomes leader", n.svc.IsLeader)
	return n
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, waitFor, what, cond)
}

// sidecar is a fake sidecar speaking the placement protocol like daprd
// 1.18: it registers, then acknowledges each order with its operation and
// version (unless manual), and records what it receives.
type sidecar struct {
	t      testing.TB
	name   string
	appID  string
	ns     string
	manual bool

	conn   *grpc.ClientConn
	stream v1pb.Placement_ReportDaprStatusClient
	cancel context.CancelFunc
	sendMu sync.Mutex

	mu      sync.Mutex
	orders  []*v1pb.PlacementOrder
	pending *v1pb.PlacementTables // from the last UPDATE
	tables  *v1pb.PlacementTables // installed by the last UNLOCK
	version uint64                // of the last UNLOCK
	unlocks int
	err     error // the stream's end
	ended   chan struct{}
	changed chan struct{} // signalled on every order
}

type sidecarOpt func(*sidecar)

func manualAcks(s *sidecar) { s.manual = true }

func inNamespace(ns string) sidecarOpt { return func(s *sidecar) { s.ns = ns } }

// dial connects a sidecar named name hosting types to the placement at addr.
func dial(t testing.TB, addr, name string, types []string, opts ...sidecarOpt) *sidecar {
	t.Helper()
	s, err := tryDial(t, addr, name, types, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryDial(t testing.TB, addr, name string, types []string, opts ...sidecarOpt) (*sidecar, error) {
	s := &sidecar{t: t, name: name, appID: "app-" + name, ns: "default", ended: make(chan struct{}), changed: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := v1pb.NewPlacementClient(conn).ReportDaprStatus(ctx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	s.conn, s.stream, s.cancel = conn, stream, cancel
	t.Cleanup(s.close)
	// io.EOF means the server already ended the stream (a follower turning
	// the sidecar away); receive reports the status.
	if err := s.send(&v1pb.Host{Name: name, Id: s.appID, Namespace: s.ns, Entities: types, Operation: v1pb.HostOperation_REPORT}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	go s.receive()
	return s, nil
}

func (s *sidecar) send(h *v1pb.Host) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(h)
}

// report changes the actor types the sidecar hosts.
func (s *sidecar) report(types []string) {
	s.t.Helper()
	if err := s.send(&v1pb.Host{Name: s.name, Id: s.appID, Namespace: s.ns, Entities: types, Operation: v1pb.HostOperation_REPORT}); err != nil {
		s.t.Fatal(err)
	}
}

// ack acknowledges an operation of a version, as daprd does.
func (s *sidecar) ack(op v1pb.HostOperation, version uint64) {
	_ = s.send(&v1pb.Host{Operation: op, Version: &version, Namespace: s.ns, Id: s.appID})
}

func (s *sidecar) receive() {
	defer close(s.ended)
	for {
		o, err := s.stream.Recv()
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.signal()
			return
		}
		s.mu.Lock()
		s.orders = append(s.orders, o)
		switch o.GetOperation() {
		case opUpdate:
			s.pending = o.GetTables()
		case opUnlock:
			s.tables = s.pending
			s.version = o.GetVersion()
			s.unlocks++
		}
		s.mu.Unlock()
		s.signal()
		if !s.manual {
			s.ack(operationOf(o), o.GetVersion())
		}
	}
}

func (s *sidecar) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func operationOf(o *v1pb.PlacementOrder) v1pb.HostOperation {
	switch o.GetOperation() {
	case opLock:
		return v1pb.HostOperation_LOCK
	case opUpdate:
		return v1pb.HostOperation_UPDATE
	default:
		return v1pb.HostOperation_UNLOCK
	}
}

// close ends the stream as a stopping sidecar does.
func (s *sidecar) close() {
	s.cancel()
	s.conn.Close()
}

// hosts returns, for the table installed by the last completed round
// (update followed by unlock), actor type → sorted host names.
func (s *sidecar) hosts() (map[string][]string, uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unlocks == 0 || s.tables == nil {
		return nil, 0, false
	}
	return tableHostsByType(s.tables), s.version, true
}

func tableHostsByType(t *v1pb.PlacementTables) map[string][]string {
	out := make(map[string][]string)
	for actorType, entry := range t.GetEntries() {
		for name := range entry.GetLoadMap() {
			out[actorType] = append(out[actorType], name)
		}
		sort.Strings(out[actorType])
	}
	return out
}

// waitTable waits until the sidecar's installed table is want.
func (s *sidecar) waitTable(want map[string][]string) uint64 {
	s.t.Helper()
	return s.waitTableAfter(want, 0)
}

// waitTableAfter waits until the sidecar has installed want at a version
// later than after.
func (s *sidecar) waitTableAfter(want map[string][]string, after uint64) uint64 {
	s.t.Helper()
	deadline := time.After(waitFor)
	for {
		got, version, ok := s.hosts()
		if ok && version > after && equalTables(got, want) {
			return version
		}
		select {
		case <-s.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			s.t.Fatalf("sidecar %s: table is %v, want %v", s.name, got, want)
		}
	}
}

// waitOrder waits until the sidecar has received n orders and returns them.
func (s *sidecar) waitOrders(n int) []*v1pb.PlacementOrder {
	s.t.Helper()
	var got []*v1pb.PlacementOrder
	eventually(s.t, fmt.Sprintf("sidecar %s receives %d orders", s.name, n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		got = slices.Clone(s.orders)
		return len(got) >= n
	})
	return got
}

// waitEnd waits for the stream to end and returns the gRPC status.
func (s *sidecar) waitEnd() *status.Status {
	s.t.Helper()
	select {
	case <-s.ended:
	case <-time.After(waitFor):
		s.t.Fatalf("sidecar %s: stream did not end", s.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return status.Convert(s.err)
}

func (s *sidecar) orderCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orders)
}

func equalTables(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// describe renders orders as "lock:1 update:1 unlock:1" for messages.
func describe(orders []*v1pb.PlacementOrder) string {
	var out []string
	for _, o := range orders {
		out = append(out, o.GetOperation()+":"+strconv.FormatUint(o.GetVersion(), 10))
	}
	return fmt.Sprint(out)
}
