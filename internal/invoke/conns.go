package invoke

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
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
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(rawsock.DialTCP(dialer)),
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

// connPool keeps one client connection per peer address; gRPC multiplexes
// all calls to that peer over it.
type connPool struct {
	opts   []grpc.DialOption
	mu     sync.RWMutex
	conns  map[string]*pooledConn
	closed bool
}

// pooledConn is the connection to one peer address, and whether that peer
// speaks the peer protocol.
type pooledConn struct {
	addr string
	conn *grpc.ClientConn
	peer peerSupport
}

func newConnPool(opts []grpc.DialOption) *connPool {
	return &connPool{opts: opts, conns: map[string]*pooledConn{}}
}

var errPoolClosed = errors.New("service invocation is shut down")

// get returns the connection to addr ("host:port"), creating it lazily.
func (p *connPool) get(addr string) (*grpc.ClientConn, error) {
	c, err := p.pooled(addr)
	if err != nil {
		return nil, err
	}
	return c.conn, nil
}

// pooled is get with what is known of the peer.
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

func (p *connPool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for addr, c := range p.conns {
		if err := c.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close connection to %s: %w", addr, err))
		}
		delete(p.conns, addr)
	}
	return errors.Join(errs...)
}
