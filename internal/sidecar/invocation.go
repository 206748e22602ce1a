package sidecar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/invoke"
	"github.com/outrigger/outrigger/internal/invoke/grpcproxy"
	"github.com/outrigger/outrigger/internal/middleware"
	"github.com/outrigger/outrigger/internal/nameresolution"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/protosplit"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// invocation is service invocation for one sidecar: the channel to the
// app, its health, the name resolver, the invoker and the internal gRPC
// server other sidecars call.
type invocation struct {
	channel  appchannel.Channel // nil without an app port
	health   *appchannel.Health // nil without health checks
	resolver nameresolution.Resolver
	invoker  *invoke.Invoker

	internal     *grpc.Server
	peerHTTP     *http.Server        // Outrigger's peer protocol, on the same port
	splits       []*protosplit.Split // the internal port's, and the local socket's
	server       *invoke.Server      // serves the internal API; actors hook in
	tracing      *tracing.Provider
	resiliency   *resiliency.Provider // for proxied gRPC calls
	internalLn   net.Listener
	localLn      net.Listener // the internal API on a local socket; nil without
	internalPort int
	wg           sync.WaitGroup
}

// namespaceOrDefault is the namespace used for identity: Dapr's standalone
// sidecars call it "default" when NAMESPACE is unset.
func namespaceOrDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func startInvocation(ctx context.Context, opts options.Options, cfg *resources.Configuration, set *resources.Set, res *resiliency.Provider, mt *metrics.Metrics, tr *tracing.Provider, appPipeline middleware.Pipeline, log *slog.Logger) (*invocation, error) {
	inv := &invocation{tracing: tr, resiliency: res}
	ln, err := listenInternal(opts.InternalGRPCListenAddress, opts.InternalGRPCPort, opts.AppID)
	if err != nil {
		return nil, err
	}
	inv.internalLn = ln
	inv.internalPort = ln.Addr().(*net.TCPAddr).Port

	if opts.AppPort > 0 {
		inv.channel, err = appchannel.New(ctx, appchannel.Config{
			Protocol: opts.AppProtocol, Address: opts.AppChannelAddress, Port: opts.AppPort,
			MaxConcurrency: opts.AppMaxConcurrency, AppAPIToken: opts.AppAPIToken, MaxResponseBodySize: opts.MaxBodySize,
			HTTPPipeline: appPipeline.WrapFunc(),
		})
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("app channel: %w", err)
		}
		if opts.EnableAppHealthCheck {
			inv.health = appchannel.NewHealthChecker(inv.channel, appchannel.HealthConfig{
				Path: opts.AppHealthCheckPath, Interval: opts.AppHealthProbeInterval,
				Timeout: opts.AppHealthProbeTimeout, Threshold: opts.AppHealthThreshold,
			}, log)
		}
		// Calls to the app are measured; health probes (above) are not.
		inv.channel = mt.WrapAppChannel(inv.channel)
		inv.channel = tracing.WrapChannel(inv.channel) // the app sees the calling span
	}

	host, err := nameresolution.HostAddress(opts.HostIP)
	if err != nil {
		log.Warn("could not determine this host's address; other sidecars may not reach this one", "error", err)
	}
	inv.resolver = startResolver(ctx, opts, cfg, host, inv.internalPort, log)

	hostname, _ := os.Hostname()
	inv.invoker = invoke.New(invoke.Config{
		AppID: opts.AppID, Namespace: namespaceOrDefault(opts.Namespace),
		Local: inv.channel, LocalHealthy: inv.healthy,
		Resolver: inv.resolver, InternalPort: inv.internalPort,
		HTTPEndpoints:   set.HTTPEndpoints,
		EndpointOptions: resources.PropertyOptions{AppID: opts.AppID, Namespace: opts.Namespace},
		HostAddress:     host, Hostname: hostname,
		MaxMessageSize: int(opts.MaxBodySize), Resiliency: res, Logger: log,
		DialOptions: append(mt.GRPCClientOptions(), tracing.GRPCDialOptions()...),
		PeerTracing: invoke.PeerTracing{Inject: tracing.InjectHTTP},
	})

	serverOpts := append(invoke.ServerOptions(int(opts.MaxBodySize)), grpcproxy.ServerOptions(inv.proxyConfig(opts, grpcproxy.Callee))...)
	serverOpts = append(serverOpts, tr.GRPCServerOptions(opts.AppID)...)
	serverOpts = append(serverOpts, mt.GRPCServerOptions()...) // calls from other sidecars
	inv.internal = grpc.NewServer(serverOpts...)
	inv.server = invoke.NewServer(mt.WrapCalleeChannel(inv.channel), inv.healthy)
	inv.server.SetPeerTracing(invoke.PeerTracing{StartCallee: tr.PeerCallee(opts.AppID)})
	internalsv1.RegisterServiceInvocationServer(inv.internal, inv.server)
	localName := inv.listenLocal(log)
	invoke.RegisterPeerHello(inv.internal, localName)
	inv.serveInternal(log)
	return inv, nil
}

// serveInternal serves the internal port, and the local socket when there
// is one: Dapr's internal gRPC API, and Outrigger's peer protocol
// (HTTP/1.1) for calls between Outrigger sidecars.
func (inv *invocation) serveInternal(log *slog.Logger) {
	inv.peerHTTP = &http.Server{
		Handler:           inv.server,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       invoke.PeerServerIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	// Stopping closes the split listener before draining the servers, so
	// a server may end with its listener closed: that is no failure.
	run := func(name string, serve func() error) {
		inv.wg.Add(1)
		go func() {
			defer inv.wg.Done()
			if err := serve(); err != nil && !errors.Is(err, grpc.ErrServerStopped) && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Error(name+" stopped", "error", err)
			}
		}()
	}
	for _, ln := range []net.Listener{inv.internalLn, inv.localLn} {
		if ln == nil {
			continue
		}
		split := protosplit.New(ln, peerFirstBytesTimeout)
		inv.splits = append(inv.splits, split)
		run("internal gRPC server", func() error { return inv.internal.Serve(split.HTTP2()) })
		run("peer protocol server", func() error { return inv.peerHTTP.Serve(split.HTTP1()) })
		run("internal port", split.Serve)
	}
	log.Info("internal gRPC server listening", "address", inv.internalLn.Addr().String())
}

// listenLocal opens the local socket other sidecars on this host call
// (the internal gRPC API and the peer protocol) and returns its name: ""
// without one, when calls come over TCP, which is only slower.
func (inv *invocation) listenLocal(log *slog.Logger) string {
	ln, name, err := invoke.ListenLocal()
	if err != nil {
		log.Warn("other sidecars on this host will call this one over TCP", "error", err)
		return ""
	}
	if ln != nil {
		inv.localLn = ln
		log.Debug("internal API also on a local socket", "name", name)
	}
	return name
}

// peerFirstBytesTimeout is how long a new connection to the internal port
// may take to send its first bytes; gRPC waits as long for its preface.
const peerFirstBytesTimeout = 2 * time.Minute

// healthy reports whether the app may be called: always true without
// health checks.
func (inv *invocation) healthy() bool {
	return inv.health == nil || inv.health.Healthy()
}

// appHealthKey is the extended metadata attribute that shows the app's
// health when health checks are on (Dapr's metadata has no field for it).
const appHealthKey = "appHealth"

// reportHealth keeps the app's health visible in the metadata API.
func (inv *invocation) reportHealth(md *api.Metadata) {
	if inv.health == nil {
		return
	}
	md.SetExtended(appHealthKey, "unknown")
	inv.health.OnChange(func(healthy bool) {
		if healthy {
			md.SetExtended(appHealthKey, "healthy")
		} else {
			md.SetExtended(appHealthKey, "unhealthy")
		}
	})
}

// proxyConfig configures gRPC proxying for one side.
func (inv *invocation) proxyConfig(opts options.Options, side grpcproxy.Side) grpcproxy.Config {
	return grpcproxy.Config{
		AppID: opts.AppID, Namespace: namespaceOrDefault(opts.Namespace), Side: side,
		Target: inv.invoker.Conn,
		LocalApp: func() *grpc.ClientConn {
			if inv.channel == nil {
				return nil
			}
			return inv.channel.GRPCConn()
		},
		AppAPIToken: opts.AppAPIToken,
		Healthy:     inv.healthy,
		Policy:      inv.resiliency.EndpointPolicy, // applied on the Caller side only
	}
}

// startResolver initialises the configured name resolver (mDNS by default
// in standalone mode). A resolver that fails to start does not stop the
// sidecar: calls to other apps then fail with the reason.
func startResolver(ctx context.Context, opts options.Options, cfg *resources.Configuration, host string, internalPort int, log *slog.Logger) nameresolution.Resolver {
	name := cfg.Spec.NameResolution.Component
	if name == "" {
		name = nameresolution.DefaultName(opts.Mode)
	}
	name = strings.TrimPrefix(strings.ToLower(name), "nameresolution.")
	conf := map[string]any{}
	if raw := cfg.Spec.NameResolution.Configuration.Raw(); len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &conf); err != nil {
			return failedResolver{fmt.Errorf("name resolution %q: configuration is not an object: %w", name, err)}
		}
	}
	r, err := nameresolution.Create(name, cfg.Spec.NameResolution.Version)
	if err == nil {
		err = r.Init(ctx, nameresolution.Metadata{Configuration: conf, Instance: nameresolution.Instance{
			AppID: opts.AppID, Namespace: namespaceOrDefault(opts.Namespace), HostAddress: host,
			DaprInternalPort: internalPort, DaprHTTPPort: opts.HTTPPort, DaprGRPCPort: opts.GRPCPort, AppPort: opts.AppPort,
		}})
	}
	if err != nil {
		err = fmt.Errorf("name resolution %q failed to start: %w", name, err)
		log.Warn("calls to other apps will fail", "error", err)
		return failedResolver{err}
	}
	log.Info("name resolution started", "component", name)
	return r
}

// failedResolver answers every lookup with the reason resolution is down.
type failedResolver struct{ err error }

func (f failedResolver) Init(context.Context, nameresolution.Metadata) error { return nil }
func (f failedResolver) Resolve(context.Context, nameresolution.Request) (string, error) {
	return "", f.err
}
func (f failedResolver) Close() error { return nil }

// waitForApp blocks until the app port accepts connections (TLS for
// https/grpcs), then, with health checks on, starts probing.
func (inv *invocation) waitForApp(ctx context.Context, opts options.Options, log *slog.Logger) error {
	if inv.channel == nil {
		return nil
	}
	tls := opts.AppProtocol == "https" || opts.AppProtocol == "grpcs"
	log.Info("waiting for the app to listen", "address", opts.AppChannelAddress, "port", opts.AppPort)
	if err := appchannel.WaitForPort(ctx, opts.AppChannelAddress, opts.AppPort, tls); err != nil {
		return err
	}
	log.Info("app is listening", "port", opts.AppPort)
	if inv.health != nil {
		inv.wg.Add(1)
		go func() {
			defer inv.wg.Done()
			inv.health.Run(ctx)
		}()
	}
	return nil
}

// stopServer drains the internal servers (with the API servers).
func (inv *invocation) stopServer(ctx context.Context) {
	inv.closeSplits()
	_ = inv.peerHTTP.Shutdown(ctx)
	inv.internal.GracefulStop()
}

// stopServerNow closes the internal servers and their connections without
// waiting for calls to finish.
func (inv *invocation) stopServerNow() {
	inv.closeSplits()
	_ = inv.peerHTTP.Close()
	inv.internal.Stop()
}

// closeSplits stops accepting on the internal port and the local socket.
func (inv *invocation) closeSplits() {
	for _, split := range inv.splits {
		_ = split.Close()
	}
}

// close releases what invocation holds, after the servers have stopped.
func (inv *invocation) close(log *slog.Logger) {
	if err := inv.resolver.Close(); err != nil {
		log.Warn("closing name resolution", "error", err)
	}
	inv.stopServerNow()
	inv.wg.Wait()
	if err := inv.invoker.Close(); err != nil {
		log.Warn("closing invoker", "error", err)
	}
	if inv.channel != nil {
		_ = inv.channel.Close()
	}
}
