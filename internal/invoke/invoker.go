// Package invoke is service invocation: the caller side (Invoker) that
// reaches the local app, another sidecar over Dapr's internal gRPC protocol
// (or, between Outrigger sidecars, the peer protocol of peer.go), or an
// external HTTP endpoint; the callee side (Server) that serves
// dapr.proto.internals.v1.ServiceInvocation and the peer protocol on the
// internal port; and the conversions between the HTTP/gRPC APIs and
// appchannel requests.
//
// HTTP API handler:
//
//	resp, err := inv.Invoke(r.Context(), appID, invoke.RequestFromHTTP(r, method))
//	if err != nil { /* write apierr.From(err) */ }
//	if err := invoke.WriteHTTP(w, resp); err != nil { panic(http.ErrAbortHandler) }
//
// gRPC InvokeService:
//
//	resp, err := inv.Invoke(ctx, in.GetId(), invoke.RequestFromGRPC(in, md))
//	if err != nil { return nil, err }
//	out, header, trailer, err := invoke.InvokeServiceResponse(in.GetId(), resp, maxBodySize)
//	grpc.SetHeader(ctx, header); grpc.SetTrailer(ctx, trailer)
//	return out, err
//
// Internal server: grpc.NewServer(invoke.ServerOptions(maxBodySize)...) with
// invoke.NewServer(appChannel, healthy) registered as ServiceInvocation and
// RegisterPeerHello; the same Server is the http.Handler of the peer
// protocol on the HTTP/1.1 side of the port (see protosplit).
package invoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/h1client"
	"github.com/outrigger/outrigger/internal/nameresolution"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// Defaults of daprd's built-in behaviour.
const (
	defaultRetries        = 3               // retries without a resiliency policy
	defaultRetryInterval  = time.Second     // constant back-off between them
	defaultConnectTimeout = 3 * time.Second // fail fast when a peer is down
	defaultMaxMessageSize = 4 << 20         // --max-body-size default
	replayLimit           = 4 << 20         // body bytes kept for a retry or fallback
)

// Config wires an Invoker.
type Config struct {
	AppID     string
	Namespace string

	// Local is the channel to this sidecar's app; nil until the app is
	// known (see SetLocal). LocalHealthy, when set, gates self-invocation.
	Local        appchannel.Channel
	LocalHealthy func() bool

	// Resolver finds other sidecars; InternalPort (this sidecar's internal
	// gRPC port) is passed to it as a hint.
	Resolver     nameresolution.Resolver
	InternalPort int

	// HTTPEndpoints are callable by name; EndpointOptions resolve their
	// headers and TLS documents (secretKeyRef, envRef).
	HTTPEndpoints   []resources.HTTPEndpoint
	EndpointOptions resources.PropertyOptions

	// HostAddress and Hostname go into X-Forwarded-For, X-Forwarded-Host
	// and Forwarded on calls to other sidecars.
	HostAddress string
	Hostname    string

	// Credentials secure the connections to other sidecars (mTLS); nil
	// means plaintext. DialOptions are added to every such connection
	// (stats handlers for tracing, ...).
	Credentials credentials.TransportCredentials
	DialOptions []grpc.DialOption

	// MaxMessageSize bounds one gRPC message to a peer (only the unary
	// fallback carries whole bodies); 0 means 4 MiB.
	MaxMessageSize int
	// Resiliency applies apps.<id> and default app policies, and may
	// override the built-in retries; nil applies only the built-in retries.
	Resiliency *resiliency.Provider
	// RetryInterval is the pause between built-in retries when
	// DaprBuiltInServiceRetries is not overridden; 0 means 1s.
	RetryInterval time.Duration
	// ConnectTimeout bounds one connection attempt to a peer; 0 means 3s.
	ConnectTimeout time.Duration

	// NoPeerProtocol keeps every call to another sidecar on Dapr's
	// internal gRPC API, even to Outrigger sidecars (see peer.go). The
	// peer protocol is never used with Credentials set.
	NoPeerProtocol bool
	// PeerTracing passes the trace context on calls over the peer
	// protocol.
	PeerTracing PeerTracing

	Logger *slog.Logger
}

// Invoker makes service invocations on behalf of this sidecar.
type Invoker struct {
	cfg   Config
	log   *slog.Logger
	local atomic.Pointer[channelRef]
	// endpoints are the HTTPEndpoint resources by name; a hot reload swaps
	// the whole map (SetHTTPEndpoints).
	endpoints atomic.Pointer[map[string]*endpoint]
	urlClient *httpClient // for full-URL targets
	conns     *connPool
	forwarded string // this sidecar's Forwarded element
	// peerClient makes peer-protocol calls; nil when they are off.
	peerClient http.RoundTripper

	mu     sync.Mutex
	closed bool
	// background counts the goroutines calls start (body senders, peer
	// hellos), for Close to wait for.
	background sync.WaitGroup
}

// channelRef lets the local channel be swapped atomically.
type channelRef struct{ ch appchannel.Channel }

// New builds an Invoker. Connections are made lazily.
func New(cfg Config) *Invoker {
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = defaultMaxMessageSize
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = defaultRetryInterval
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	i := &Invoker{
		cfg:       cfg,
		log:       cfg.Logger,
		urlClient: newHTTPClient(nil),
		conns:     newConnPool(dialOptions(cfg), peerDialer(cfg)),
		forwarded: forwardedValue(cfg.HostAddress, cfg.Hostname),
	}
	if !cfg.NoPeerProtocol && cfg.Credentials == nil {
		i.peerClient = newPeerClient(i.conns)
	}
	i.SetHTTPEndpoints(cfg.HTTPEndpoints)
	i.SetLocal(cfg.Local)
	return i
}

// SetHTTPEndpoints replaces the HTTPEndpoint resources (hot reload). An
// endpoint whose resource is unchanged keeps its resolved headers and
// connections; the others start afresh, and the idle connections of the
// ones replaced are closed (calls in flight finish on theirs).
func (i *Invoker) SetHTTPEndpoints(list []resources.HTTPEndpoint) {
	var old map[string]*endpoint
	if p := i.endpoints.Load(); p != nil {
		old = *p
	}
	next := make(map[string]*endpoint, len(list))
	for _, e := range list {
		if prev := old[e.Name()]; prev != nil && reflect.DeepEqual(prev.res, e) {
			next[e.Name()] = prev
			continue
		}
		next[e.Name()] = &endpoint{res: e, opts: i.cfg.EndpointOptions}
	}
	i.endpoints.Store(&next)
	for name, e := range old {
		if next[name] != e {
			e.close()
		}
	}
}

// SetLocal sets (or replaces) the channel to this sidecar's app.
func (i *Invoker) SetLocal(ch appchannel.Channel) {
	i.local.Store(&channelRef{ch: ch})
}

// Invoke calls appID with req and returns the target's response, whose
// Body the caller must close. Invoke takes ownership of req (its metadata
// may be extended). Failures are *apierr.Error values: ERR_DIRECT_INVOKE
// (500, or 403 when the callee's access control denied the call).
func (i *Invoker) Invoke(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error) {
	if req == nil || req.Message == nil || req.Message.GetMessage() == nil {
		return nil, apierr.DirectInvoke(appID, errors.New("request has no message"))
	}
	t, err := i.parseTarget(appID)
	if err != nil {
		return nil, apierr.DirectInvoke(appID, err)
	}
	m, err := NormalizeMethod(req.Message.Message.GetMethod())
	if err != nil {
		return nil, apierr.DirectInvoke(appID, err)
	}
	req.Message.Message.Method = m
	if pol := i.cfg.Resiliency.EndpointPolicy(appID); !pol.IsZero() {
		return i.invokeWithPolicy(ctx, appID, t, req, pol)
	}
	return i.dispatch(ctx, appID, t, req)
}

// dispatch makes one call to a parsed target.
func (i *Invoker) dispatch(ctx context.Context, appID string, t target, req *appchannel.Request) (*appchannel.Response, error) {
	switch t.kind {
	case kindSelf:
		return i.invokeLocal(ctx, appID, req)
	case kindEndpoint, kindURL:
		return i.invokeHTTP(ctx, appID, t, req)
	default:
		return i.invokeRemote(ctx, appID, t, req)
	}
}

// invokeLocal hands the request straight to this sidecar's app, without
// caller/callee/forwarding headers.
func (i *Invoker) invokeLocal(ctx context.Context, appID string, req *appchannel.Request) (*appchannel.Response, error) {
	ch := i.local.Load().ch
	if ch == nil {
		return nil, apierr.DirectInvoke(appID, errors.New("app channel is not initialized"))
	}
	if h := i.cfg.LocalHealthy; h != nil && !h() {
		return nil, apierr.DirectInvoke(appID, errors.New("app is not in a healthy state"))
	}
	resp, err := ch.Invoke(ctx, req)
	if err != nil {
		return nil, apierr.DirectInvoke(appID, err)
	}
	return resp, nil
}

// Conn returns a connection to the internal gRPC server of appID's sidecar
// ("app" or "app.namespace"), for proxying gRPC calls. self is true (and
// conn nil) when appID is this sidecar's own app.
func (i *Invoker) Conn(ctx context.Context, appID string) (conn *grpc.ClientConn, self bool, err error) {
	id, ns, err := splitAppID(appID, i.cfg.Namespace)
	if err != nil {
		return nil, false, err
	}
	if id == i.cfg.AppID && ns == i.cfg.Namespace {
		return nil, true, nil
	}
	conn, err = i.connFor(ctx, target{kind: kindRemote, appID: id, namespace: ns})
	return conn, false, err
}

// connFor resolves a remote target and returns the pooled connection to it.
func (i *Invoker) connFor(ctx context.Context, t target) (*grpc.ClientConn, error) {
	c, err := i.pooledFor(ctx, t)
	if err != nil {
		return nil, err
	}
	return i.grpcConn(c), nil
}

// pooledFor is connFor with what is known of the peer.
func (i *Invoker) pooledFor(ctx context.Context, t target) (*pooledConn, error) {
	if i.cfg.Resolver == nil {
		return nil, errors.New("no name resolver is configured")
	}
	addr, err := i.cfg.Resolver.Resolve(ctx, nameresolution.Request{ID: t.appID, Namespace: t.namespace, Port: i.cfg.InternalPort})
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", t.appID, err)
	}
	return i.conns.pooled(addr)
}

// Close closes pooled connections and waits for the background goroutines to stop.
func (i *Invoker) Close() error {
	i.mu.Lock()
	i.closed = true
	i.mu.Unlock()
	err := i.conns.close()
	i.urlClient.close()
	if i.peerClient != nil {
		h1client.CloseIdleConnections(i.peerClient)
	}
	for _, e := range *i.endpoints.Load() {
		e.close()
	}
	i.background.Wait()
	return err
}
