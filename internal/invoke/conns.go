package invoke

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/outrigger/outrigger/internal/rawsock"
)

// FlowWindow is the HTTP/2 stream and connection window of the sidecar's
// gRPC connections: large enough that a 64 KiB chunk stream never stalls
// on one RTT. Setting it at all turns off gRPC's bandwidth-delay probing,
// which otherwise answers the data of every call with a WINDOW_UPDATE and
// a PING, one more write (and wake-up) per call on each side.
const FlowWindow = 4 << 20

// dialOptions are the options of every connection to another sidecar.
func dialOptions(cfg Config) []grpc.DialOption {
	creds := cfg.Credentials
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(rawsock.DialTCP(peerDialer(cfg))),
		// Ping after 10s without activity so dead peers are noticed; the
		// internal server permits pings every 8s even without streams.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		// A short connect attempt and a short back-off cap: calls to a dead
		// peer fail within seconds instead of hanging, and a restarted peer
		// is reachable again quickly.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 500 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: cfg.ConnectTimeout,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.MaxMessageSize), grpc.MaxCallSendMsgSize(cfg.MaxMessageSize)),
		// Fixed flow-control windows turn off gRPC's bandwidth-delay probing,
		// which adds a PING round trip to the data frames of every call.
		grpc.WithInitialWindowSize(FlowWindow),
		grpc.WithInitialConnWindowSize(FlowWindow),
		// The invoker retries by Dapr's rules itself; gRPC's own transparent
		// retries would buffer every sent message for a replay.
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
	}
	return append(opts, cfg.DialOptions...)
}

// peerDialer is the dialer of connections to other sidecars.
func peerDialer(cfg Config) *net.Dialer {
	return &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
}

// connPool keeps one client connection per peer address; gRPC multiplexes
// all calls to that peer over it.
type connPool struct {
	opts    []grpc.DialOption
	dialer  *net.Dialer
	mu      sync.RWMutex
	conns   map[string]*pooledConn
	retired map[*grpc.ClientConn]struct{} // closed once idle (retire)
	// localHosts are the peers called on a local socket, by its URL host
	// (reachableLocal), for dialPeer's way back to TCP. Entries stay: a
	// call may still dial a replaced socket, and there is one per socket
	// a peer ever had, a few bytes each.
	localHosts map[string]*pooledConn
	closed     bool
	wg         sync.WaitGroup // retire's goroutines
}

// pooledConn is the connection to one peer address, and whether that peer
// speaks the peer protocol.
type pooledConn struct {
	addr string
	// conn goes over TCP: the hello goes there, and every gRPC call until
	// the peer's local socket is known (peerlocal.go).
	conn  *grpc.ClientConn
	local atomic.Pointer[grpc.ClientConn] // over the peer's local socket
	peer  peerSupport
}

// grpcConn is the connection gRPC calls to the peer take.
func (c *pooledConn) grpcConn() *grpc.ClientConn {
	if l := c.local.Load(); l != nil {
		return l
	}
	return c.conn
}

func newConnPool(opts []grpc.DialOption, dialer *net.Dialer) *connPool {
	return &connPool{
		opts: opts, dialer: dialer, conns: map[string]*pooledConn{},
		retired: map[*grpc.ClientConn]struct{}{}, localHosts: map[string]*pooledConn{},
	}
}

var errPoolClosed = errors.New("service invocation is shut down")

// pooled returns the connection to addr ("host:port") with what is known
// of the peer, creating it lazily.
func (p *connPool) pooled(addr string) (*pooledConn, error) {
	p.mu.RLock()
	c, ok := p.conns[addr]
	closed := p.closed
	p.mu.RUnlock()
	if ok {
		return c, nil
	}
	if closed {
		return nil, errPoolClosed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errPoolClosed
	}
	if c, ok := p.conns[addr]; ok {
		return c, nil
	}
	// passthrough: the address is already resolved; skip gRPC's DNS
	// resolver and its goroutines.
	conn, err := grpc.NewClient("passthrough:///"+addr, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	c = &pooledConn{addr: addr, conn: conn}
	p.conns[addr] = c
	return c, nil
}

// useLocal has gRPC calls to c go to the peer's local socket (name, as
// it advertised it; host, the URL host reachableLocal made of it), or back
// over TCP when name is "". A connection it replaces is retired.
func (p *connPool) useLocal(c *pooledConn, name, host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	old := c.local.Load()
	if old != nil && old.CanonicalTarget() == "passthrough:///"+host {
		return
	}
	var conn *grpc.ClientConn
	if name != "" {
		p.localHosts[host] = c
		var err error
		conn, err = grpc.NewClient("passthrough:///"+host, append(p.opts, grpc.WithContextDialer(p.localDialer(c, name)))...)
		if err != nil {
			conn = nil // calls stay on TCP
		}
	}
	c.local.Store(conn)
	if old != nil {
		p.retire(old)
	}
}

// localDialer is dialLocal for gRPC.
func (p *connPool) localDialer(c *pooledConn, name string) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) { return p.dialLocal(ctx, c, name) }
}

// dialLocal dials the peer's local socket. When that fails (the peer
// stopped, or restarted under a new name) it dials the peer's TCP address
// instead and has the peer asked again, which replaces the socket's name:
// nothing was sent yet, so the call goes on as if over TCP all along.
func (p *connPool) dialLocal(ctx context.Context, c *pooledConn, name string) (net.Conn, error) {
	conn, err := p.dialer.DialContext(ctx, "unix", localSocketAddress(name))
	if err == nil {
		return rawsock.Wrap(conn), nil
	}
	c.peer.state.CompareAndSwap(peerYes, peerUnknown)
	return rawsock.DialTCP(p.dialer)(ctx, c.addr)
}

// dialPeer dials for the peer protocol: a peer's address, or a local
// socket by the URL host reachableLocal made for it.
func (p *connPool) dialPeer(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	id, local := strings.CutSuffix(host, localHostSuffix)
	if err != nil || !local {
		return p.dialer.DialContext(ctx, network, addr)
	}
	name := localSocketPrefix + id
	p.mu.RLock()
	c := p.localHosts[addr]
	p.mu.RUnlock()
	if c == nil {
		return p.dialer.DialContext(ctx, "unix", localSocketAddress(name))
	}
	return p.dialLocal(ctx, c, name)
}

// retire closes conn once no call uses it: gRPC puts a connection in idle
// mode after its idle timeout without calls. Closing it at once would cut
// calls and streams still under way on it.
func (p *connPool) retire(conn *grpc.ClientConn) {
	p.retired[conn] = struct{}{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for state := conn.GetState(); state != connectivity.Idle && state != connectivity.Shutdown; state = conn.GetState() {
			conn.WaitForStateChange(context.Background(), state)
		}
		p.mu.Lock()
		delete(p.retired, conn)
		p.mu.Unlock()
		_ = conn.Close()
	}()
}

func (p *connPool) close() error {
	defer p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for addr, c := range p.conns {
		if err := c.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close connection to %s: %w", addr, err))
		}
		if l := c.local.Load(); l != nil {
			_ = l.Close()
		}
		delete(p.conns, addr)
	}
	for conn := range p.retired {
		_ = conn.Close() // its retire goroutine sees Shutdown and ends
	}
	return errors.Join(errs...)
}
