package placement

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	v1pb "github.com/dapr/dapr/pkg/proto/placement/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/placement/membership"
)

// store replicates a namespace's membership (membership.Node in production).
type store interface {
	Put(namespace string, state membership.Namespace) error
}

// Events the stream handlers post to a namespace loop.
type (
	connAdded struct {
		conn *conn
		host *v1pb.Host
	}
	hostReported struct {
		conn *conn
		host *v1pb.Host
	}
	connClosed struct {
		conn *conn
	}
)

// member is a host in the table. While its stream is gone (conn nil) it
// stays until expires, so a sidecar that reconnects quickly, or finds the
// new leader after a failover, changes nothing.
type member struct {
	host    membership.Host
	conn    *conn
	expires time.Time
}

// stream is what the loop knows of one live sidecar stream.
type stream struct {
	host       membership.Host // latest report; Name fixed by the first one
	needsTable bool            // connected without changing the table
}

// round is a dissemination in progress: lock, update, unlock, each phase
// moving on once every participant has acknowledged it.
type round struct {
	version  uint64
	phase    v1pb.HostOperation // LOCK, UPDATE or UNLOCK: the ack awaited
	tables   *v1pb.PlacementTables
	acked    map[*conn]bool
	pending  int
	started  time.Time
	deadline time.Time
}

// namespace owns the membership and dissemination of one namespace. Only
// its loop goroutine touches the fields below events.
type namespace struct {
	name   string
	cfg    *Options
	store  store
	log    *slog.Logger
	gauges *gauges
	events chan any

	members  map[string]*member
	streams  map[*conn]*stream
	version  uint64
	tables   *v1pb.PlacementTables // of version, for one-shot pushes
	dirty    bool                  // the table must change: a round is due
	round    *round
	roundEnd time.Time // when the last round finished, for coalescing
	retryAt  time.Time // after a failed write, when to try again
}

func newNamespace(name string, cfg *Options, st store, log *slog.Logger, g *gauges, initial membership.Namespace, now time.Time) *namespace {
	n := &namespace{
		name:    name,
		cfg:     cfg,
		store:   st,
		log:     log.With("namespace", name),
		gauges:  g,
		events:  make(chan any, 256),
		members: make(map[string]*member),
		streams: make(map[*conn]*stream),
		version: initial.Version,
	}
	// Hosts known from the replicated log wait for their sidecars to
	// reconnect to this leader; the table keeps them meanwhile.
	for _, h := range initial.Hosts {
		n.members[h.Name] = &member{host: h, expires: now.Add(cfg.FailoverGracePeriod)}
	}
	n.tables = buildTables(n.tableHosts(), n.version, cfg.ReplicationFactor)
	return n
}

// post hands an event to the loop; false when the loop has stopped.
func (n *namespace) post(ctx context.Context, ev any) bool {
	select {
	case n.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// run is the loop. When ctx ends (leadership lost or shutdown) every
// stream is closed so its sidecar moves on to another placement node.
func (n *namespace) run(ctx context.Context) {
	// The first wake already counts: hosts restored from the log must
	// expire even if no sidecar of the namespace ever reconnects.
	timer := time.NewTimer(n.nextWake(time.Now()))
	defer timer.Stop()
	defer n.closeAll(status.Error(codes.Unavailable, "placement node stopped serving; reconnect"))
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.events:
			n.handle(ev, time.Now())
		case <-timer.C:
			n.expire(time.Now())
		}
		now := time.Now()
		n.progress(now)
		runtimes, actorRuntimes := n.counts()
		n.gauges.set(n.name, runtimes, actorRuntimes)
		timer.Reset(n.nextWake(now))
	}
}

func (n *namespace) handle(ev any, now time.Time) {
	switch e := ev.(type) {
	case connAdded:
		n.add(e.conn, e.host, now)
	case hostReported:
		n.report(e.conn, e.host, now)
	case connClosed:
		n.lost(e.conn, now)
	}
}

func (n *namespace) add(c *conn, report *v1pb.Host, now time.Time) {
	host := hostFromReport(report, now.UnixNano())
	if m := n.members[host.Name]; m != nil && m.conn != nil && m.conn != c {
		// The sidecar reconnected before its old stream was noticed dead.
		old := m.conn
		old.close(status.Error(codes.Aborted, "replaced by a newer stream from the same host"))
		n.drop(old)
	}
	p := &stream{host: host}
	n.streams[c] = p
	if !n.apply(c, host, now) {
		p.needsTable = true
	}
	n.log.Info("Sidecar connected", "host", host.Name, "appID", host.AppID, "actorTypes", host.Entities)
}

func (n *namespace) report(c *conn, report *v1pb.Host, now time.Time) {
	p := n.streams[c]
	if p == nil {
		return
	}
	op := report.GetOperation()
	if op == v1pb.HostOperation_UNKNOWN {
		// Sidecars before Dapr 1.18 neither name nor version their
		// acknowledgements: a message while awaited is the ack.
		if r := n.round; r != nil && n.awaiting(c) {
			n.ack(c, r.phase, r.version, now)
			return
		}
		op = v1pb.HostOperation_REPORT
	}
	if op != v1pb.HostOperation_REPORT {
		version := n.version
		if report.Version != nil {
			version = report.GetVersion()
		}
		n.ack(c, op, version, now)
		return
	}
	host := hostFromReport(report, now.UnixNano())
	host.Name = p.host.Name
	p.host = host
	if !n.apply(c, host, now) && len(host.Entities) == 0 {
		return
	}
	n.log.Debug("Sidecar reported actor types", "host", host.Name, "actorTypes", host.Entities)
}

// apply records a host's report and says whether the table changes.
func (n *namespace) apply(c *conn, host membership.Host, now time.Time) bool {
	m := n.members[host.Name]
	if len(host.Entities) == 0 {
		if m == nil {
			return false
		}
		delete(n.members, host.Name)
		n.dirty = true
		return true
	}
	if m == nil {
		n.members[host.Name] = &member{host: host, conn: c}
		n.dirty = true
		return true
	}
	m.conn = c
	m.expires = time.Time{}
	if sameInTable(m.host, host) {
		return false
	}
	m.host = host
	n.dirty = true
	return true
}

// lost handles a stream that ended. Its host keeps its place in the table
// for the grace period, so a flapping sidecar causes no round at all.
func (n *namespace) lost(c *conn, now time.Time) {
	p := n.streams[c]
	if p == nil {
		return
	}
	n.drop(c)
	if m := n.members[p.host.Name]; m != nil && m.conn == c {
		m.conn = nil
		m.expires = now.Add(n.cfg.HostGracePeriod)
	}
	n.log.Info("Sidecar disconnected", "host", p.host.Name, "appID", p.host.AppID)
}

// drop forgets a stream, and takes it out of the round in progress.
func (n *namespace) drop(c *conn) {
	delete(n.streams, c)
	if r := n.round; r != nil {
		if acked, ok := r.acked[c]; ok {
			if !acked {
				r.pending--
			}
			delete(r.acked, c)
		}
	}
}

// kick closes a stream that broke the protocol or fell behind, and removes
// its host from the table at once.
func (n *namespace) kick(c *conn, err error) {
	p := n.streams[c]
	c.close(err)
	if p == nil {
		return
	}
	n.drop(c)
	if m := n.members[p.host.Name]; m != nil && m.conn == c {
		delete(n.members, p.host.Name)
		n.dirty = true
	}
	n.log.Warn("Closed sidecar stream", "host", p.host.Name, "appID", p.host.AppID, "reason", err)
}

func (n *namespace) awaiting(c *conn) bool {
	acked, ok := n.round.acked[c]
	return ok && !acked
}

// ack records a sidecar's acknowledgement of the current phase; late or
// stray ones (a previous round, a one-shot table push) are ignored.
func (n *namespace) ack(c *conn, op v1pb.HostOperation, version uint64, now time.Time) {
	r := n.round
	if r == nil || version != r.version || op != r.phase || !n.awaiting(c) {
		return
	}
	r.acked[c] = true
	r.pending--
}

// expire handles time passing: a round past its deadline drops the hosts
// that did not answer and is abandoned, so a fresh round (new version, new
// deadline) gives the others a table without them; hosts gone longer than
// their grace leave the table.
func (n *namespace) expire(now time.Time) {
	if r := n.round; r != nil && !now.Before(r.deadline) {
		err := status.Errorf(codes.DeadlineExceeded, "no acknowledgement of placement table version %d within %s", r.version, n.cfg.DisseminateTimeout)
		for c, acked := range r.acked {
			if !acked {
				n.kick(c, err)
			}
		}
		n.log.Warn("Dissemination round timed out", "version", r.version)
		n.round = nil
		n.roundEnd = now
		n.dirty = true
	}
	for name, m := range n.members {
		if m.conn == nil && !now.Before(m.expires) {
			delete(n.members, name)
			n.dirty = true
			n.log.Info("Removed host that did not reconnect", "host", name, "appID", m.host.AppID)
		}
	}
}

// progress moves the round on while every participant has answered, and
// starts the next round (or pushes the table to new streams) when idle.
func (n *namespace) progress(now time.Time) {
	for n.round != nil && n.round.pending == 0 {
		n.advance(now)
	}
	if n.round == nil {
		n.maybeStart(now)
	}
}

func (n *namespace) advance(now time.Time) {
	r := n.round
	var next *v1pb.PlacementOrder
	switch r.phase {
	case v1pb.HostOperation_LOCK:
		r.phase = v1pb.HostOperation_UPDATE
		next = updateOrder(r.version, r.tables)
	case v1pb.HostOperation_UPDATE:
		r.phase = v1pb.HostOperation_UNLOCK
		next = unlockOrder(r.version)
	default:
		n.round = nil
		n.roundEnd = now
		n.gauges.roundDone(now.Sub(r.started))
		n.log.Debug("Dissemination round complete", "version", r.version, "hosts", len(r.acked), "took", now.Sub(r.started))
		return
	}
	n.broadcast(next, slices.Collect(maps.Keys(r.acked)))
}

// broadcast queues an order for each stream and resets their acks; a
// stream whose outbox is full is kicked.
func (n *namespace) broadcast(o *v1pb.PlacementOrder, conns []*conn) {
	r := n.round
	for _, c := range conns {
		r.acked[c] = false
		r.pending++
	}
	for _, c := range conns {
		if !c.send(o) {
			n.kick(c, status.Error(codes.ResourceExhausted, "sidecar is not reading placement orders"))
		}
	}
}

func (n *namespace) maybeStart(now time.Time) {
	if n.dirty {
		if now.Before(n.retryAt) || now.Before(n.roundEnd.Add(n.cfg.CoalesceWindow)) {
			return
		}
		n.startRound(now)
		return
	}
	for c, p := range n.streams {
		if p.needsTable {
			p.needsTable = false
			n.pushTable(c)
		}
	}
}

// startRound replicates the new membership, then locks every stream.
func (n *namespace) startRound(now time.Time) {
	version := n.version + 1
	hosts := n.tableHosts()
	if err := n.store.Put(n.name, membership.Namespace{Version: version, Hosts: hosts}); err != nil {
		n.log.Warn("Could not replicate placement membership; retrying", "error", err)
		n.retryAt = now.Add(500 * time.Millisecond)
		return
	}
	n.dirty = false
	n.version = version
	n.tables = buildTables(hosts, version, n.cfg.ReplicationFactor)
	n.round = &round{
		version:  version,
		phase:    v1pb.HostOperation_LOCK,
		tables:   n.tables,
		acked:    make(map[*conn]bool, len(n.streams)),
		started:  now,
		deadline: now.Add(n.cfg.DisseminateTimeout),
	}
	for _, p := range n.streams {
		p.needsTable = false
	}
	n.log.Debug("Dissemination round started", "version", version, "streams", len(n.streams), "hosts", len(hosts))
	n.broadcast(lockOrder(version), slices.Collect(maps.Keys(n.streams)))
}

// pushTable sends the current table to one stream that joined without
// changing it. Its acknowledgements carry a version no round awaits.
func (n *namespace) pushTable(c *conn) {
	for _, o := range []*v1pb.PlacementOrder{lockOrder(n.version), updateOrder(n.version, n.tables), unlockOrder(n.version)} {
		if !c.send(o) {
			n.kick(c, status.Error(codes.ResourceExhausted, "sidecar is not reading placement orders"))
			return
		}
	}
}

// tableHosts returns the hosts in the table, sorted by name.
func (n *namespace) tableHosts() []membership.Host {
	hosts := make([]membership.Host, 0, len(n.members))
	for _, name := range slices.Sorted(maps.Keys(n.members)) {
		hosts = append(hosts, n.members[name].host)
	}
	return hosts
}

// nextWake returns how long until the loop must look at the clock again.
func (n *namespace) nextWake(now time.Time) time.Duration {
	next := now.Add(time.Hour)
	earlier := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	if n.round != nil {
		earlier(n.round.deadline)
	}
	for _, m := range n.members {
		if m.conn == nil {
			earlier(m.expires)
		}
	}
	if n.dirty && n.round == nil {
		earlier(n.retryAt)
		earlier(n.roundEnd.Add(n.cfg.CoalesceWindow))
	}
	if d := next.Sub(now); d > 0 {
		return d
	}
	return time.Millisecond
}

// counts returns the number of streams and of streams hosting actors.
func (n *namespace) counts() (runtimes, actorRuntimes int) {
	for _, p := range n.streams {
		runtimes++
		if len(p.host.Entities) > 0 {
			actorRuntimes++
		}
	}
	return runtimes, actorRuntimes
}

func (n *namespace) closeAll(err error) {
	for c := range n.streams {
		c.close(err)
	}
	n.gauges.set(n.name, 0, 0)
}
