// Package mdns is the "mdns" name resolver, Dapr's default in standalone
// mode. Each sidecar answers multicast DNS queries for its app id with its
// host address and internal gRPC port; Resolve asks the network for an app
// id, caches the instances found for a few seconds (refreshing in the
// background before they expire) and spreads calls across them.
//
// Records are named as Dapr's resolver names them (service
// "<app-id>.local.", TXT = app id), so Dapr and Outrigger sidecars on one
// network find each other. The protocol is implemented here on
// golang.org/x/net/dns/dnsmessage rather than through an mDNS library,
// which gives control over record TTLs and goodbye packets. IPv4 only.
package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

func init() {
	nameresolution.Registry.Register("mdns", func() nameresolution.Resolver { return New() })
}

const (
	// defaultCacheTTL caps how long instances are reused without asking
	// again: short, so that sidecars that vanish without a goodbye drop out.
	defaultCacheTTL = 5 * time.Second
	// defaultBrowseTimeout bounds a lookup that finds nothing.
	defaultBrowseTimeout = time.Second
	// defaultSettle is how long a lookup keeps listening after the last new
	// answer, to gather the other instances of the app id. Responders may
	// wait 20-120ms before answering a shared question (RFC 6762 §6).
	defaultSettle = 150 * time.Millisecond
	// minTTL keeps very short record TTLs from turning the background
	// refresh into a busy loop.
	minTTL = time.Second
)

// Resolver advertises this sidecar and resolves others over mDNS.
type Resolver struct {
	// Tunables, fixed before Init (tests shorten them).
	ifaces        []net.Interface // nil: all multicast interfaces
	cacheTTL      time.Duration
	browseTimeout time.Duration
	settle        time.Duration

	svc     *service
	conn    *net.UDPConn     // joined to 224.0.0.251:5353
	pc      *ipv4.PacketConn // the same socket, for multicast options
	sendMu  sync.Mutex       // serialises interface switching + send
	closing atomic.Bool
	log     *slog.Logger

	cache   *nameresolution.Cache
	flight  nameresolution.Flight
	browses atomic.Int64 // network lookups made, for tests

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns an uninitialised resolver.
func New() *Resolver {
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{
		cacheTTL:      defaultCacheTTL,
		browseTimeout: defaultBrowseTimeout,
		settle:        defaultSettle,
		cache:         nameresolution.NewCache(),
		ctx:           ctx,
		cancel:        cancel,
		log:           slog.Default().With("component", "nameresolution.mdns"),
	}
}

// Init starts answering queries for this sidecar's app id and announces it.
func (r *Resolver) Init(_ context.Context, md nameresolution.Metadata) error {
	in := md.Instance
	ip := net.ParseIP(in.HostAddress)
	switch {
	case in.AppID == "":
		return errors.New("mdns name resolution: this sidecar has no app id")
	case ip == nil:
		return fmt.Errorf("mdns name resolution: host address %q is not an IP address", in.HostAddress)
	case in.DaprInternalPort <= 0 || in.DaprInternalPort > 65535:
		return fmt.Errorf("mdns name resolution: invalid internal gRPC port %d", in.DaprInternalPort)
	}
	hostname, _ := os.Hostname()
	svc, err := newService(in.AppID, hostname, os.Getpid(), ip, in.DaprInternalPort)
	if err != nil {
		return fmt.Errorf("mdns name resolution: %w", err)
	}
	r.svc = svc
	if r.ifaces == nil {
		r.ifaces = multicastInterfaces()
	}
	if err := r.listen(); err != nil {
		return fmt.Errorf("mdns name resolution: %w", err)
	}
	r.wg.Add(1)
	go r.serve()
	r.announce()
	r.log.Info("advertising app id over mDNS", "appID", in.AppID, "address", net.JoinHostPort(ip.String(), fmt.Sprint(in.DaprInternalPort)), "interfaces", ifaceNames(r.ifaces))
	return nil
}

// Resolve returns the address of an instance of req.ID. The namespace plays
// no part: mDNS has none, as in Dapr.
func (r *Resolver) Resolve(ctx context.Context, req nameresolution.Request) (string, error) {
	id := strings.ToLower(req.ID)
	if addr, refresh, ok := r.cache.Next(id); ok {
		if refresh && r.ctx.Err() == nil {
			r.lookup(id) // in the background; the cached list serves meanwhile
		}
		return addr, nil
	}
	if r.svc == nil || r.ctx.Err() != nil {
		return "", errors.New("mdns name resolution: not initialised or closed")
	}
	if id == "" || strings.Contains(id, ".") {
		return "", fmt.Errorf("mdns name resolution: invalid app id %q", req.ID)
	}
	addrs, err := r.lookup(id).Wait(ctx)
	if err != nil {
		return "", fmt.Errorf("mDNS lookup of app id %q: %w", req.ID, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no instances of app id %q found via mDNS (is its sidecar running on this network?)", req.ID)
	}
	if addr, _, ok := r.cache.Next(id); ok {
		return addr, nil
	}
	return addrs[0], nil
}

// lookup browses for id unless a browse is under way, and caches what it
// finds. On a cold cache the first instance to answer is cached and handed
// to waiters at once; the full list replaces it when the browse ends.
// Finding nothing leaves the cache as it is: a warm entry expires on its
// own, and a miss is not cached so a sidecar that just started is found on
// the next call.
func (r *Resolver) lookup(id string) *nameresolution.Call {
	return r.flight.Join(&r.wg, id, func(publish func([]string)) ([]string, error) {
		early := func(insts map[string]found) {
			if _, warm := r.cache.Get(id); !warm {
				addrs := r.store(id, insts)
				publish(addrs)
			}
		}
		insts, err := r.browse(r.ctx, id, early)
		if err != nil {
			return nil, err
		}
		return r.store(id, insts), nil
	})
}

// store caches the addresses of insts for the shortest of their record
// TTLs, within [minTTL, cacheTTL].
func (r *Resolver) store(id string, insts map[string]found) []string {
	addrs, ttl := sortedAddrs(insts)
	if len(addrs) > 0 {
		r.cache.Set(id, addrs, max(min(ttl, r.cacheTTL), minTTL))
	}
	return addrs
}

// forget drops a cached app id after one of its instances said goodbye, and
// looks it up again so the remaining instances keep serving.
func (r *Resolver) forget(id string) {
	if _, ok := r.cache.Get(id); !ok || r.ctx.Err() != nil {
		return
	}
	r.cache.Delete(id)
	r.lookup(id)
}

// Close says goodbye, so peers drop this instance at once, and stops.
func (r *Resolver) Close() error {
	var err error
	r.once.Do(func() {
		r.closing.Store(true)
		r.cancel()
		if r.conn != nil {
			r.goodbye()
			err = r.conn.Close()
		}
		r.wg.Wait()
	})
	return err
}
