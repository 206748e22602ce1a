// Package client is the sidecar's side of actor placement: it reports the
// actor types this sidecar hosts to the placement service over Dapr's
// ReportDaprStatus stream, takes part in its dissemination rounds (lock,
// update, unlock) and answers "which sidecar owns this actor?" from the
// latest table, with the same consistent-hash ring Dapr sidecars build, so
// Outrigger and Dapr sidecars can share one placement service.
//
// Timings (all configurable in Options):
//
//   - Heartbeat, 1s: while the sidecar hosts actor types it re-sends its
//     report every second, for placement services that still time hosts out
//     by their reports (Dapr before 1.14). Dapr 1.18's placement ignores an
//     unchanged report. A sidecar that hosts nothing reports only on connect
//     and on change, as Dapr 1.18 does: Dapr's placement answers every report
//     of such a host with a full table push.
//   - Lost grace, 1s: when the stream to placement ends, lookups keep using
//     the last table for this long while the client reconnects. If no
//     placement has answered on a new stream by then, the listener's
//     PlacementLost runs and lookups fail fast with ErrPlacementUnreachable
//     until a new table arrives. It is shorter than the time placement keeps
//     a disconnected host in the table (Outrigger's placement: 2s; Dapr's
//     older faulty-host detection: 3s), so this sidecar drops its actors
//     before placement can give them to another host. Dapr 1.18's placement
//     drops a host as soon as its stream ends; set 0 for Dapr 1.18's own
//     sidecar behaviour (drop the actors at once).
//   - Dissemination timeout, 30s (--actors-disseminate-timeout): a round
//     that has not reached unlock by then is abandoned; the stream is
//     closed and opened again.
//   - Reconnect: the addresses are tried in turn without delay; after every
//     address failed, the client waits 0.5s, doubling up to 5s (±20%
//     jitter), before the next turn.
//   - Keepalive: the client pings after 15s without hearing anything and
//     drops the connection after 5s more without an answer. Placement
//     itself pings every 2s (Dapr's and Outrigger's default; Dapr allows at
//     most 10s), which counts as activity, so the client never pings a
//     healthy placement and never trips its ping policy; the pings only
//     find a placement that vanished without closing the connection.
package client

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/placement/hashing"
	"github.com/outrigger/outrigger/internal/sleep"
)

// Defaults of Options.
const (
	DefaultHeartbeatInterval  = time.Second
	DefaultLostGrace          = time.Second
	DefaultDisseminateTimeout = 30 * time.Second
	// DefaultNamespace is reported when Options.Namespace is empty, as Dapr
	// does without a NAMESPACE variable.
	DefaultNamespace = "default"

	reconnectBase = 500 * time.Millisecond
	reconnectMax  = 5 * time.Second
	dialTimeout   = 5 * time.Second
	maxQuickDrops = 3
	maxTableSize  = 64 << 20
	// apiLevel is what Dapr 1.18 sidecars report.
	apiLevel = 20
)

// ErrPlacementUnreachable is returned by lookups while the sidecar has been
// cut off from placement for longer than the grace period: the table it has
// may no longer be true.
var ErrPlacementUnreachable = errors.New("placement service is unreachable: actor locations are unknown until it is reached again")

// Options configure a Client.
type Options struct {
	// Addresses are the placement addresses ("host:port"), tried in turn;
	// only the leader accepts the stream.
	Addresses []string
	// HostAddress is the address other sidecars reach this one on and Port
	// its internal gRPC port; the host's name is "<HostAddress>:<Port>".
	HostAddress string
	Port        int
	AppID       string
	// Namespace defaults to DefaultNamespace.
	Namespace string

	// Listener is told about table changes; it can also be set later with
	// SetListener, before Run.
	Listener actors.TableListener

	// DialOptions are added after the client's own (transport credentials
	// for mTLS go here; the default is plaintext).
	DialOptions []grpc.DialOption

	HeartbeatInterval  time.Duration
	LostGrace          time.Duration // 0 takes the default; negative means none
	DisseminateTimeout time.Duration

	Logger *slog.Logger
}

// ParseAddresses splits --placement-host-address (comma-separated) into
// addresses, dropping blanks and quotes.
func ParseAddresses(csv string) []string {
	var out []string
	for a := range strings.SplitSeq(csv, ",") {
		a = strings.TrimSpace(strings.Trim(strings.TrimSpace(a), `"'`))
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Client is the placement client of one sidecar. It implements
// actors.Placement, actors.TableReader and actors.Connectivity.
type Client struct {
	opts  Options
	self  actors.Host
	log   *slog.Logger
	grace time.Duration

	// view is what lookups read, without locks.
	view atomic.Pointer[view]

	// mu guards the fields below and serialises publishing views.
	mu       sync.Mutex
	types    []string
	listener actors.TableListener
	address  string    // placement address of the current or last stream
	answered bool      // placement has answered on the current stream
	ready    bool      // and a round has completed on it
	downAt   time.Time // when an answered stream ended; zero while up or already lost

	// listenerMu serialises calls into the listener, so TableUpdated and
	// PlacementLost never overlap and run in the order of the changes.
	listenerMu sync.Mutex

	// reportNow asks the current stream to send a report at once.
	reportNow chan struct{}
	// downChanged wakes the grace watchdog when downAt changes.
	downChanged chan struct{}
	running     atomic.Bool

	// born and lastTick (time since born, set while Run runs) detect that
	// this process did not run for a while (stall.go); restart then asks
	// the stream to reconnect.
	born     time.Time
	lastTick atomic.Int64
	restart  chan struct{}
}

var (
	_ actors.Placement    = (*Client)(nil)
	_ actors.TableReader  = (*Client)(nil)
	_ actors.Connectivity = (*Client)(nil)
)

// New checks opts and returns a client; Run connects it.
func New(opts Options) (*Client, error) {
	if len(opts.Addresses) == 0 {
		return nil, errors.New("placement client: no placement address")
	}
	if opts.HostAddress == "" || opts.Port <= 0 {
		return nil, errors.New("placement client: host address and internal gRPC port are required")
	}
	if opts.AppID == "" {
		return nil, errors.New("placement client: app ID is required")
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.DisseminateTimeout <= 0 {
		opts.DisseminateTimeout = DefaultDisseminateTimeout
	}
	grace := opts.LostGrace
	switch {
	case grace == 0:
		grace = DefaultLostGrace
	case grace < 0:
		grace = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Client{
		opts:  opts,
		grace: grace,
		self: actors.Host{
			Name:      net.JoinHostPort(opts.HostAddress, strconv.Itoa(opts.Port)),
			AppID:     opts.AppID,
			Namespace: opts.Namespace,
		},
		log:         opts.Logger.With("component", "placement-client"),
		listener:    opts.Listener,
		reportNow:   make(chan struct{}, 1),
		downChanged: make(chan struct{}, 1),
		born:        time.Now(),
		restart:     make(chan struct{}, 1),
	}
	c.view.Store(&view{changed: make(chan struct{})})
	return c, nil
}

// Host is this sidecar as the placement table names it.
func (c *Client) Host() actors.Host { return c.self }

// SetListener sets the listener told about table changes. Call it before
// Run.
func (c *Client) SetListener(l actors.TableListener) {
	c.mu.Lock()
	c.listener = l
	c.mu.Unlock()
}

// SetHostedTypes sets the actor types this sidecar reports and sends a
// report at once when connected; empty reports none.
func (c *Client) SetHostedTypes(types []string) {
	c.mu.Lock()
	c.types = slices.Clone(types)
	c.mu.Unlock()
	select {
	case c.reportNow <- struct{}{}:
	default: // a report is already pending; it will carry these types
	}
}

// Status is the client's state for the metadata API and health checks.
type Status struct {
	// Address is the placement address of the current or last stream.
	Address string
	// Connected: a placement leader has answered on the current stream.
	Connected bool
	// Ready: connected, and a dissemination round has completed on this
	// stream, so the table in use is placement's current one.
	Ready bool
	// Lost: cut off for longer than the grace period; lookups fail.
	Lost bool
	// TableVersion is the version of the table in use (0: none yet).
	TableVersion uint64
}

// Status reports the client's state.
func (c *Client) Status() Status {
	v := c.view.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{
		Address:      c.address,
		Connected:    c.answered,
		Ready:        c.ready,
		Lost:         v.lost,
		TableVersion: v.version,
	}
}

// Ready reports whether the sidecar is connected and has placement's
// current table.
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// Connected reports whether the sidecar is in placement's dissemination,
// for the metadata API ("placement: connected"); the same as Ready.
func (c *Client) Connected() bool { return c.Ready() }

// Run reports this host to placement and follows its tables until ctx
// ends, failing over between addresses and reconnecting with back-off.
// It returns nil when ctx ends.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("placement client: Run called twice")
	}
	dialOpts := c.dialOptions()
	// Virtual node positions are kept across tables and streams; only the
	// stream goroutine (this one) uses the cache.
	cache := hashing.NewVirtualNodeCache()

	var wg sync.WaitGroup
	wg.Go(func() { c.watchGrace(ctx) })
	wg.Go(func() { c.watchStalls(ctx) })
	defer wg.Wait()

	failures, quickDrops := 0, 0
	for next := 0; ctx.Err() == nil; next = (next + 1) % len(c.opts.Addresses) {
		addr := c.opts.Addresses[next]
		started := time.Now()
		answered, err := c.stream(ctx, addr, dialOpts, cache)
		if ctx.Err() != nil {
			break
		}
		switch {
		case answered:
			c.streamEnded()
			c.log.Warn("Placement stream ended; reconnecting", "address", addr, "error", err)
			// Reconnect at once, so a failover fits in the grace period;
			// but after several streams in a row that ended right away,
			// back off like after failures, or a placement that accepts
			// and drops streams would be hammered.
			if time.Since(started) < reconnectBase {
				quickDrops++
			} else {
				quickDrops = 0
			}
			if quickDrops <= maxQuickDrops {
				failures = 0
				continue
			}
		case isNotLeader(err):
			c.log.Debug("Placement node is not the leader; trying the next", "address", addr)
		default:
			c.log.Warn("Cannot reach placement", "address", addr, "error", err)
		}
		failures++
		if failures%len(c.opts.Addresses) == 0 {
			if !sleep.For(ctx, reconnectDelay(failures/len(c.opts.Addresses))) {
				break
			}
		}
	}
	c.mu.Lock()
	c.answered, c.ready = false, false
	c.mu.Unlock()
	return nil
}

func (c *Client) dialOptions() []grpc.DialOption {
	dialer := &net.Dialer{Timeout: dialTimeout}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}),
		// Placement pings every 2s (at most every 10s), which counts as
		// activity: these pings only go out to a placement that vanished
		// without closing the connection, so they never break a
		// placement's ping policy.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 15 * time.Second, Timeout: 5 * time.Second}),
		// Tables grow with hosts × actor types; do not cut a big one off.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxTableSize)),
		// One connection attempt per stream: failing over is this
		// package's job, not gRPC's reconnect loop.
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: dialTimeout}),
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
	}
	return append(opts, c.opts.DialOptions...)
}

// reconnectDelay is the pause after the turn-th full turn of failures.
func reconnectDelay(turn int) time.Duration {
	d := reconnectBase
	for i := 1; i < turn && d < reconnectMax; i++ {
		d *= 2
	}
	d = min(d, reconnectMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// streamAnswered records that placement answered on the stream to addr.
func (c *Client) streamAnswered(addr string) {
	c.mu.Lock()
	c.address = addr
	c.answered = true
	c.downAt = time.Time{}
	c.mu.Unlock()
	c.poke(c.downChanged)
}

// streamEnded starts the grace period after an answered stream ended.
func (c *Client) streamEnded() {
	c.mu.Lock()
	c.answered, c.ready = false, false
	if !c.view.Load().lost {
		c.downAt = time.Now()
	}
	c.mu.Unlock()
	c.poke(c.downChanged)
}

func (c *Client) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// watchGrace declares placement lost when the grace period after a stream
// ended runs out before placement answered on a new one.
func (c *Client) watchGrace(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		c.mu.Lock()
		downAt := c.downAt
		c.mu.Unlock()
		var expired <-chan time.Time
		if !downAt.IsZero() {
			timer.Reset(time.Until(downAt.Add(c.grace)))
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-c.downChanged:
			timer.Stop()
		case <-expired:
			c.declareLost(ctx)
		}
	}
}

// declareLost makes lookups fail fast and tells the listener, unless
// placement answered meanwhile.
func (c *Client) declareLost(ctx context.Context) {
	c.listenerMu.Lock()
	defer c.listenerMu.Unlock()
	c.mu.Lock()
	if c.downAt.IsZero() || time.Since(c.downAt) < c.grace {
		c.mu.Unlock()
		return
	}
	c.downAt = time.Time{}
	c.publish(func(v *view) { v.lost = true })
	listener := c.listener
	c.mu.Unlock()
	c.log.Warn("Lost placement: cut off longer than the grace period; actor lookups fail until placement is reached", "grace", c.grace)
	if listener != nil {
		listener.PlacementLost(ctx)
	}
}

// publish installs a new view made by changing a copy of the current one,
// and wakes the lookups waiting on the old one. c.mu must be held.
func (c *Client) publish(change func(v *view)) {
	old := c.view.Load()
	next := *old
	next.changed = make(chan struct{})
	change(&next)
	c.view.Store(&next)
	close(old.changed)
}

// installTable publishes a new table with blocked types, and runs the
// listener's TableUpdated; it returns when the listener is done.
func (c *Client) installTable(ctx context.Context, rings map[string]*hashing.Ring, version uint64, blocked map[string]struct{}) {
	c.listenerMu.Lock()
	defer c.listenerMu.Unlock()
	c.mu.Lock()
	c.publish(func(v *view) {
		v.rings = rings
		v.version = version
		v.hasTable = true
		v.lost = false
		v.suspect = false
		v.blocked = blocked
	})
	listener := c.listener
	c.mu.Unlock()
	if listener != nil {
		listener.TableUpdated(ctx)
	}
}

// unblock ends a round: every type is served again.
func (c *Client) unblock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready = true
	if c.view.Load().blocked != nil {
		c.publish(func(v *view) { v.blocked = nil })
	}
}

func (c *Client) rings() map[string]*hashing.Ring {
	return c.view.Load().rings
}

// errRoundTimeout closes a stream whose round did not finish in time.
var errRoundTimeout = errors.New("dissemination round timed out")
