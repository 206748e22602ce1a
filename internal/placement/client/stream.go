package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/placement/hashing"
)

// The operations of a PlacementOrder.
const (
	opLock   = "lock"
	opUpdate = "update"
	opUnlock = "unlock"
)

// session is one ReportDaprStatus stream. Orders are handled one at a time
// on the goroutine that runs receive; the heartbeat goroutine only sends.
type session struct {
	c      *Client
	addr   string
	stream v1pb.Placement_ReportDaprStatusClient
	cancel context.CancelCauseFunc

	// sendMu serialises Send and CloseSend, which gRPC does not allow
	// concurrently.
	sendMu sync.Mutex

	// The round in progress, as Dapr's sidecars track it: the last order
	// handled (lock before any), its version, and the types whose ring
	// changed since the last unlock (placement may send several lock and
	// update pairs before one unlock).
	op         v1pb.HostOperation
	version    uint64
	changed    map[string]struct{}
	roundTimer *time.Timer
	// fresh: no update received on this stream yet.
	fresh bool
}

// stream runs one stream to addr until it fails or ctx ends. answered
// reports whether placement accepted it (sent any order).
func (c *Client) stream(ctx context.Context, addr string, dialOpts []grpc.DialOption, cache *hashing.VirtualNodeCache) (answered bool, err error) {
	// passthrough: the address is dialled as given; no gRPC resolver.
	conn, err := grpc.NewClient("passthrough:///"+addr, dialOpts...)
	if err != nil {
		return false, fmt.Errorf("connect to placement %s: %w", addr, err)
	}
	defer conn.Close()

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	st, err := v1pb.NewPlacementClient(conn).ReportDaprStatus(sctx)
	if err != nil {
		return false, fmt.Errorf("open placement stream to %s: %w", addr, err)
	}
	s := &session{c: c, addr: addr, stream: st, cancel: cancel, op: v1pb.HostOperation_LOCK, changed: map[string]struct{}{}, fresh: true}
	defer s.stopRoundTimer()

	// The first message registers the host. A report asked for before now
	// is covered by it.
	select {
	case <-c.reportNow:
	default:
	}
	if err := s.sendReport(); err != nil {
		return false, s.streamErr(sctx, err)
	}

	var wg sync.WaitGroup
	wg.Go(func() { s.heartbeat(sctx) })
	wg.Go(func() { s.watchRestart(sctx) })
	answered, err = s.receive(sctx, cache)
	cancel(err)
	s.closeSend()
	wg.Wait()
	return answered, err
}

// receive handles placement's orders until the stream fails.
func (s *session) receive(ctx context.Context, cache *hashing.VirtualNodeCache) (bool, error) {
	answered := false
	for {
		order, err := s.stream.Recv()
		if err != nil {
			return answered, s.streamErr(ctx, err)
		}
		if !answered {
			answered = true
			s.c.streamAnswered(s.addr)
			s.c.log.Info("Connected to placement", "address", s.addr, "host", s.c.self.Name)
		}
		if err := s.handle(ctx, order, cache); err != nil {
			return answered, err
		}
	}
}

// handle applies one order and acknowledges it.
func (s *session) handle(ctx context.Context, order *v1pb.PlacementOrder, cache *hashing.VirtualNodeCache) error {
	version := order.GetVersion()
	if version == 0 {
		// Placement services before Dapr 1.14 put the version in the
		// tables only.
		//lint:ignore SA1019 older placements still send only this version
		version, _ = strconv.ParseUint(order.GetTables().GetVersion(), 10, 64)
	}
	switch order.GetOperation() {
	case opLock:
		s.startRoundTimer(version)
		s.op, s.version = v1pb.HostOperation_LOCK, version
		return s.ack(v1pb.HostOperation_LOCK)

	case opUpdate:
		if version < s.version {
			return fmt.Errorf("placement sent the table of version %d after locking version %d", version, s.version)
		}
		rings := buildRings(order.GetTables(), cache)
		prev := s.c.rings()
		if s.fresh {
			// The first table on a new stream: what this sidecar held may
			// be stale (it was cut off, or it stalled), and another host
			// may still be draining an actor that comes back here. So
			// every type waits for this round's unlock, even one whose
			// ring looks unchanged.
			for typ := range prev {
				s.changed[typ] = struct{}{}
			}
			prev = nil
			s.fresh = false
		}
		for typ := range changedTypes(prev, rings) {
			s.changed[typ] = struct{}{}
		}
		var blocked map[string]struct{}
		if len(s.changed) > 0 {
			blocked = maps.Clone(s.changed)
		}
		s.c.installTable(ctx, rings, version, blocked)
		s.op, s.version = v1pb.HostOperation_UPDATE, version
		return s.ack(v1pb.HostOperation_UPDATE)

	case opUnlock:
		if s.op != v1pb.HostOperation_UPDATE {
			s.c.log.Warn("Placement sent unlock without an update; ignored", "version", version)
			return nil
		}
		if version < s.version {
			s.c.log.Warn("Placement sent unlock for an older version; ignored", "version", version, "current", s.version)
			return nil
		}
		s.stopRoundTimer()
		s.c.log.Debug("Placement table in place", "version", version, "changed_types", sortedKeys(s.changed))
		clear(s.changed)
		s.c.unblock()
		s.op, s.version = v1pb.HostOperation_UNLOCK, version
		return s.ack(v1pb.HostOperation_UNLOCK)

	default:
		return fmt.Errorf("placement sent an unknown operation %q", order.GetOperation())
	}
}

// ack acknowledges the current order, as Dapr 1.18 sidecars do: the
// operation and version, with the app ID and namespace.
func (s *session) ack(op v1pb.HostOperation) error {
	version := s.version
	return s.send(&v1pb.Host{
		Operation: op,
		Version:   &version,
		Id:        s.c.self.AppID,
		Namespace: s.c.self.Namespace,
	})
}

// heartbeat re-sends the report every interval while the host hosts actor
// types, and at once when the types change.
func (s *session) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.c.hostsTypes() {
				continue
			}
		case <-s.c.reportNow:
		}
		if err := s.sendReport(); err != nil {
			s.cancel(fmt.Errorf("send report to placement: %w", err))
			return
		}
	}
}

func (s *session) sendReport() error {
	return s.send(s.c.report())
}

func (s *session) send(h *v1pb.Host) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(h)
}

func (s *session) closeSend() {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	_ = s.stream.CloseSend()
}

// startRoundTimer bounds the round that a lock starts; a new lock before
// the unlock (placement folding rounds together) restarts it.
func (s *session) startRoundTimer(version uint64) {
	s.stopRoundTimer()
	limit := s.c.opts.DisseminateTimeout
	s.roundTimer = time.AfterFunc(limit, func() {
		s.cancel(fmt.Errorf("%w: version %d did not reach unlock within %s", errRoundTimeout, version, limit))
	})
}

func (s *session) stopRoundTimer() {
	if s.roundTimer != nil {
		s.roundTimer.Stop()
		s.roundTimer = nil
	}
}

// streamErr prefers the reason this side ended the stream for.
func (s *session) streamErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return fmt.Errorf("placement stream to %s: %w", s.addr, err)
}

// report is this host's registration with the current types.
func (c *Client) report() *v1pb.Host {
	c.mu.Lock()
	types := append([]string{}, c.types...)
	c.mu.Unlock()
	return &v1pb.Host{
		Name:      c.self.Name,
		Port:      int64(c.opts.Port),
		Entities:  types,
		Id:        c.self.AppID,
		Namespace: c.self.Namespace,
		//lint:ignore SA1019 Dapr 1.18 sidecars still report it
		ApiLevel:  apiLevel,
		Operation: v1pb.HostOperation_REPORT,
	}
}

func (c *Client) hostsTypes() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.types) > 0
}

// isNotLeader reports placement's refusal from a follower node.
func isNotLeader(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), "not a leader")
}
