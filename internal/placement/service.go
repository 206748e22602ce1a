// Package placement is the actor placement service, wire-compatible with
// Dapr's (dapr.proto.placement.v1.Placement), so Dapr and Outrigger sidecars
// can share one. Sidecars report the actor types they host over a
// ReportDaprStatus stream; for each namespace the leader keeps the hosts and
// disseminates every change in three acknowledged phases: lock, update (the
// new table), unlock. A sidecar that does not acknowledge within the
// dissemination timeout is dropped. Membership is replicated with Raft
// (package membership); only the leader serves sidecars, the others answer
// FailedPrecondition so sidecars try the next address.
package placement

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/placement/membership"
)

// Options configure a placement node. Zero durations take the defaults.
type Options struct {
	// ID is this node's Raft ID; Peers the whole cluster (empty: a single
	// node without a Raft port). DataDir holds the Raft log; empty keeps it
	// in memory.
	ID      string
	Peers   []membership.Peer
	DataDir string

	// ReplicationFactor is the number of virtual nodes per host that
	// sidecars put on their hash ring (default 100).
	ReplicationFactor int64
	// DisseminateTimeout bounds a round; sidecars that have not
	// acknowledged by then are dropped (default 8s, as Dapr).
	DisseminateTimeout time.Duration
	// CoalesceWindow holds the next round back after one ends, so a burst
	// of changes makes one round (default 0: next round at once; changes
	// during a round always wait for its end).
	CoalesceWindow time.Duration
	// HostGracePeriod is how long a host whose stream ended stays in the
	// table, so a sidecar that reconnects at once changes nothing
	// (default 2s).
	HostGracePeriod time.Duration
	// FailoverGracePeriod is how long a new leader keeps the hosts it
	// knows from the log while their sidecars reconnect (default 10s).
	FailoverGracePeriod time.Duration

	// KeepAliveTime and KeepAliveTimeout are the gRPC keepalive pings that
	// detect a dead sidecar (defaults 2s and 3s, as Dapr).
	KeepAliveTime    time.Duration
	KeepAliveTimeout time.Duration

	Logger *slog.Logger
	// RaftLogLevel is the level of Raft's own logs, which go to Logger
	// (hclog names; default warn).
	RaftLogLevel string
	// RaftTuning overrides Raft's leader lease and log compaction (zero
	// fields: defaults). No flag sets it; tests use it.
	RaftTuning membership.Tuning
}

// Defaults, as Dapr's placement.
const (
	DefaultPort               = 50005
	DefaultReplicationFactor  = 100
	DefaultDisseminateTimeout = 8 * time.Second
	DefaultKeepAliveTime      = 2 * time.Second
	DefaultKeepAliveTimeout   = 3 * time.Second
	defaultHostGrace          = 2 * time.Second
	defaultFailoverGrace      = 10 * time.Second
)

func (o *Options) setDefaults() {
	if o.ID == "" {
		o.ID = "dapr-placement-0"
	}
	if o.ReplicationFactor <= 0 {
		o.ReplicationFactor = DefaultReplicationFactor
	}
	if o.DisseminateTimeout <= 0 {
		o.DisseminateTimeout = DefaultDisseminateTimeout
	}
	if o.HostGracePeriod <= 0 {
		o.HostGracePeriod = defaultHostGrace
	}
	if o.FailoverGracePeriod <= 0 {
		o.FailoverGracePeriod = defaultFailoverGrace
	}
	if o.KeepAliveTime <= 0 {
		o.KeepAliveTime = DefaultKeepAliveTime
	}
	if o.KeepAliveTimeout <= 0 {
		o.KeepAliveTimeout = DefaultKeepAliveTimeout
	}
	if o.RaftLogLevel == "" {
		o.RaftLogLevel = "warn"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service is one placement node.
type Service struct {
	v1pb.UnimplementedPlacementServer

	opts   Options
	log    *slog.Logger
	gauges *gauges

	ready atomic.Bool
	node  atomic.Pointer[membership.Node]
	// crash makes Run stop like a killed process: Raft stops without
	// handing leadership over. Tests set it before cancelling Run.
	crash  atomic.Bool
	connID atomic.Uint64

	mu   sync.Mutex
	term *term // non-nil while this node serves as leader

	wg sync.WaitGroup // stream receivers and leader terms
}

// New returns a node; Run starts it.
func New(opts Options) *Service {
	opts.setDefaults()
	return &Service{opts: opts, log: opts.Logger, gauges: newGauges()}
}

// Run starts Raft, serves the Placement gRPC API on lis and blocks until
// ctx ends; then it closes every sidecar stream, stops the server and Raft.
func (s *Service) Run(ctx context.Context, lis net.Listener) error {
	node, err := membership.Start(membership.Config{
		ID:       s.opts.ID,
		Peers:    s.opts.Peers,
		DataDir:  s.opts.DataDir,
		Logger:   s.opts.Logger,
		LogLevel: s.opts.RaftLogLevel,
		Tuning:   s.opts.RaftTuning,
	})
	if err != nil {
		_ = lis.Close()
		return err
	}
	s.node.Store(node)

	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{
		Time:    s.opts.KeepAliveTime,
		Timeout: s.opts.KeepAliveTimeout,
	}))
	v1pb.RegisterPlacementServer(srv, s)

	// Ready means running, leader or not; the listener is already open.
	s.ready.Store(true)
	leaderCtx, stopLeader := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchLeadership(leaderCtx, node)
	}()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	s.log.Info("Placement service started", "id", s.opts.ID, "address", lis.Addr().String(), "peers", len(s.opts.Peers))

	serverDone := false
	select {
	case <-ctx.Done():
	case err = <-served:
		serverDone = true
		err = fmt.Errorf("placement gRPC server: %w", err)
	}
	s.ready.Store(false)
	s.log.Info("Placement service stopping", "id", s.opts.ID)
	stopLeader()
	<-watched
	s.stopTerm()
	stopGRPC(srv, 5*time.Second)
	if !serverDone {
		<-served
	}
	closeErr := s.closeNode(node)
	s.wg.Wait()
	s.gauges.setLeader(false, false)
	return errors.Join(err, closeErr)
}

func (s *Service) closeNode(node *membership.Node) error {
	if s.crash.Load() {
		return node.Halt()
	}
	return node.Close()
}

// stopGRPC stops the server gracefully, forcibly after grace.
func stopGRPC(srv *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		srv.Stop()
		<-done
	}
}

// watchLeadership starts serving when this node becomes leader and stops
// when it is not. It must keep reading until ctx ends: Raft waits for it.
func (s *Service) watchLeadership(ctx context.Context, node *membership.Node) {
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-node.LeadershipChanges():
			if !leader {
				s.log.Info("Lost placement leadership", "id", s.opts.ID)
				s.stopTerm()
				s.gauges.setLeader(false, false)
				continue
			}
			s.gauges.setLeader(true, false)
			// Apply everything the previous leader committed before
			// reading the membership.
			if err := node.CatchUp(10 * time.Second); err != nil {
				s.log.Warn("New leader could not catch up with the log", "error", err)
				continue
			}
			if !node.IsLeader() {
				continue
			}
			s.startTerm(ctx, node)
			s.gauges.setLeader(true, true)
			s.log.Info("Acquired placement leadership; serving sidecars", "id", s.opts.ID)
		}
	}
}

// IsLeader reports whether this node serves sidecars now.
func (s *Service) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term != nil
}

// Ready reports whether the node is running (leader or not).
func (s *Service) Ready() bool { return s.ready.Load() }

// State returns the replicated membership as this node knows it, nil
// before Run.
func (s *Service) State() map[string]membership.Namespace {
	node := s.node.Load()
	if node == nil {
		return nil
	}
	return node.State()
}

// ReportDaprStatus serves one sidecar: its first message registers it,
// later ones report actor types or acknowledge orders.
func (s *Service) ReportDaprStatus(stream v1pb.Placement_ReportDaprStatusServer) error {
	t := s.currentTerm()
	if t == nil {
		return status.Errorf(codes.FailedPrecondition, "placement node %s is not a leader; try another placement address", s.opts.ID)
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if err := validateFirst(first); err != nil {
		return err
	}
	addr := "unknown"
	if p, ok := peer.FromContext(stream.Context()); ok {
		addr = p.Addr.String()
	}
	c := newConn(s.connID.Add(1), addr)
	ns := t.namespace(first.GetNamespace())
	if !ns.post(t.ctx, connAdded{conn: c, host: first}) {
		return status.Error(codes.Unavailable, "placement node stopped serving; reconnect")
	}

	recvErr := make(chan error, 1)
	s.wg.Go(func() { recvErr <- receive(t.ctx, stream, ns, c) })

	err = sendOrders(t.ctx, stream, c, recvErr)
	ns.post(t.ctx, connClosed{conn: c})
	return err
}

// sendOrders sends the conn's orders until the sidecar goes away or the
// namespace loop closes the conn.
func sendOrders(ctx context.Context, stream v1pb.Placement_ReportDaprStatusServer, c *conn, recvErr <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return status.Error(codes.Unavailable, "placement node stopped serving; reconnect")
		case o := <-c.out:
			if err := stream.Send(o); err != nil {
				return err
			}
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-c.done:
			return c.err
		}
	}
}

// receive forwards the sidecar's messages to its namespace loop.
func receive(ctx context.Context, stream v1pb.Placement_ReportDaprStatusServer, ns *namespace, c *conn) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			return err
		}
		if msg.GetNamespace() != "" && msg.GetNamespace() != ns.name {
			return status.Errorf(codes.InvalidArgument, "host moved from namespace %q to %q on the same stream", ns.name, msg.GetNamespace())
		}
		if !ns.post(ctx, hostReported{conn: c, host: msg}) {
			return status.Error(codes.Unavailable, "placement node stopped serving; reconnect")
		}
	}
}

// validateFirst checks the registration like Dapr does: app ID and
// namespace are required, and an operation and a version go together.
func validateFirst(h *v1pb.Host) error {
	if h.GetOperation() == v1pb.HostOperation_UNKNOWN && h.Version != nil {
		return status.Error(codes.InvalidArgument, "host report has a version but no operation")
	}
	if h.GetId() == "" || h.GetNamespace() == "" {
		return status.Error(codes.InvalidArgument, "host report needs an app ID and a namespace")
	}
	if h.GetName() == "" {
		return status.Error(codes.InvalidArgument, "host report needs a name (address:port)")
	}
	return nil
}

// term is one period of leadership: the namespace loops serving sidecars.
type term struct {
	ctx    context.Context
	cancel context.CancelFunc
	svc    *Service
	state  map[string]membership.Namespace // replicated state at the start

	mu         sync.Mutex
	namespaces map[string]*namespace
	wg         sync.WaitGroup
}

func (s *Service) currentTerm() *term {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term
}

func (s *Service) startTerm(ctx context.Context, node *membership.Node) {
	s.stopTerm()
	tctx, cancel := context.WithCancel(ctx)
	t := &term{ctx: tctx, cancel: cancel, svc: s, state: node.State(), namespaces: make(map[string]*namespace)}
	// Namespaces known from the log start now, so their hosts expire even
	// if none of their sidecars comes back.
	for _, name := range membership.SortedNames(t.state) {
		t.namespace(name)
	}
	s.mu.Lock()
	s.term = t
	s.mu.Unlock()
}

func (s *Service) stopTerm() {
	s.mu.Lock()
	t := s.term
	s.term = nil
	s.mu.Unlock()
	if t != nil {
		t.cancel()
		t.wg.Wait()
	}
}

// namespace returns the loop of a namespace, starting it on first use.
func (t *term) namespace(name string) *namespace {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ns := t.namespaces[name]; ns != nil {
		return ns
	}
	node := t.svc.node.Load()
	ns := newNamespace(name, &t.svc.opts, node, t.svc.log, t.svc.gauges, t.state[name], time.Now())
	t.namespaces[name] = ns
	t.wg.Go(func() { ns.run(t.ctx) })
	return ns
}
