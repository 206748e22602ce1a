// Package sidecar is the composition root of one sidecar: it builds the
// components, building blocks and servers from Options, runs them, and stops
// them in reverse order.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apiaccess"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	apihttp "github.com/outrigger/outrigger/internal/api/http"
	"github.com/outrigger/outrigger/internal/invoke/grpcproxy"
	"github.com/outrigger/outrigger/internal/middleware"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/rawsock"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/version"
)

// Run starts a sidecar and blocks until ctx is cancelled or a shutdown is
// requested through the API, then shuts down gracefully. It returns nil after
// a clean shutdown and an error when startup fails.
func Run(ctx context.Context, opts options.Options, log *slog.Logger) error {
	start := time.Now()
	if log == nil {
		log = slog.Default()
	}
	log = log.With("app_id", opts.AppID)

	cfg, err := loadConfiguration(opts.ConfigFiles)
	if err != nil {
		return err
	}
	mt, metricsSrv, err := startMetrics(ctx, opts, cfg, log)
	if err != nil {
		return err
	}
	defer stopMetrics(metricsSrv, opts.GracefulShutdown, log)
	tr, err := startTracing(ctx, opts, cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing(tr, opts.GracefulShutdown, log)
	set, err := resources.Load(ctx, resources.LoadOptions{ResourcesPaths: opts.ResourcesPaths, AppID: opts.AppID, Namespace: opts.Namespace})
	if err != nil {
		return fmt.Errorf("loading resources: %w", err)
	}
	res, err := newResiliency(set, mt.ResiliencyObserver(), log)
	if err != nil {
		return err
	}
	env := componentEnv{
		appID: opts.AppID, namespace: opts.Namespace, denied: cfg.Spec.Components.Deny,
		defaultSecretStore: defaultSecretStore(opts), log: log, metrics: mt,
	}
	comps, err := loadComponents(ctx, env, withBuiltinSecretStore(opts, set.Components))
	if err != nil {
		return err
	}
	defer comps.close(log)
	pipes, err := buildPipelines(cfg, comps, log)
	if err != nil {
		return err
	}

	inv, err := startInvocation(ctx, opts, cfg, set, res, mt, tr, pipes.app, log)
	if err != nil {
		return err
	}
	defer inv.close(log)

	act, err := newActorHost(opts, cfg, comps, inv, res, mt, tr, log)
	if err != nil {
		return err
	}

	engine, err := newDelivery(opts, set, comps, inv, res, mt, log)
	if err != nil {
		return err
	}
	box, err := startOutbox(ctx, opts, comps, res, log)
	if err != nil {
		return err
	}
	defer stopOutbox(box, opts.GracefulShutdown, log)

	shutdownRequested := make(chan struct{})
	var requestOnce sync.Once
	api.SortComponents(comps.registered)
	info := metadataInfo(opts, cfg, set, comps)
	info.Subscriptions = engine.Subscriptions
	md := api.NewMetadata(info)
	inv.reportHealth(md)
	core := api.New(api.Config{
		AppID:        opts.AppID,
		Namespace:    opts.Namespace,
		StateStores:  comps.stateStores,
		PubSubs:      comps.pubsubs,
		Secrets:      comps.secrets,
		Locks:        comps.locks,
		Configs:      comps.configs,
		Crypto:       comps.cryptos,
		Outputs:      comps.outputs,
		SecretScopes: cfg.SecretAllowed,
		Metadata:     md,
		Invoker:      mt.WrapInvoker(inv.invoker),
		Outbox:       box, // nil-safe: a nil *outbox.Outbox enables no store
		Resiliency:   res,
		Actors:       act.actorRuntime(),
		Shutdown:     func() { requestOnce.Do(func() { close(shutdownRequested) }) },
		Metrics:      mt,
		Tracing:      tr,
	})

	if inv.channel != nil {
		core.SetConfigUpdater(api.NewAppConfigUpdater(inv.channel, log))
	}
	inputBindings := newInputBindings(opts, comps, inv, core, res, mt, log)

	srv, err := startServers(ctx, opts, cfg, core, inv, engine, act.actorStreamer(), pipes.api, log)
	if err != nil {
		return err
	}
	core.SetOutboundReady()
	// Actors outlive runCtx: on shutdown they drain through placement
	// before the servers stop.
	act.start(context.WithoutCancel(ctx))

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-shutdownRequested:
			log.Info("shutdown requested through the API")
			cancel()
		case <-runCtx.Done():
		}
	}()

	if err := inv.waitForApp(runCtx, opts, log); err != nil && runCtx.Err() == nil {
		act.stop(opts.GracefulShutdown)
		srv.stop(opts.GracefulShutdown, log)
		return err
	}
	if runCtx.Err() == nil {
		act.appReady(runCtx, inv)
		if err := engine.Start(runCtx); err != nil {
			log.Error("pub/sub subscriptions failed to start", "error", err)
		}
		if err := inputBindings.Start(runCtx); err != nil {
			log.Error("input bindings failed to start", "error", err)
		}
		core.SetReady()
		log.Info(fmt.Sprintf("dapr initialized. Status: Running. Init Elapsed %dms", time.Since(start).Milliseconds()),
			"http_port", opts.HTTPPort, "grpc_port", opts.GRPCPort, "components", len(comps.registered))
	}

	hot, err := startHotReload(runCtx, hotReloadDeps{opts: opts, cfg: cfg, env: env, set: set, comps: comps, core: core, md: md,
		engine: engine, inputs: inputBindings, inv: inv, res: res, log: log})
	if err != nil {
		log.Error("hot reload is not available", "error", err)
	}

	<-runCtx.Done()
	hot.stop() // before the engines stop: a reload restarts subscriptions
	blockShutdown(opts.BlockShutdownDuration, log)
	log.Info("shutting down gracefully", "grace_period", opts.GracefulShutdown.String())
	stopDelivery(engine, opts.GracefulShutdown, log)
	stopInputBindings(inputBindings, opts.GracefulShutdown, log)
	act.stop(opts.GracefulShutdown)
	srv.stop(opts.GracefulShutdown, log)
	log.Info("shutdown complete")
	return nil
}

// blockShutdown keeps serving for --dapr-block-shutdown-duration after a
// termination signal, so an app that is still finishing work can use the
// sidecar. (Dapr also ends the wait early when the app turns unhealthy; app
// health checks arrive with the service invocation building block.)
func blockShutdown(d time.Duration, log *slog.Logger) {
	if d <= 0 {
		return
	}
	log.Info("blocking shutdown while the app finishes", "duration", d.String())
	time.Sleep(d)
}

func loadConfiguration(files []string) (*resources.Configuration, error) {
	cfg, err := resources.LoadConfiguration(files)
	if err != nil {
		return nil, fmt.Errorf("loading configuration: %w", err)
	}
	return cfg, nil
}

func metadataInfo(opts options.Options, cfg *resources.Configuration, set *resources.Set, comps *loaded) api.MetadataInfo {
	info := api.MetadataInfo{
		AppID:               opts.AppID,
		RuntimeVersion:      version.DaprCompat,
		EnabledFeatures:     cfg.EnabledFeatures(),
		Components:          comps.registered,
		PlacementConfigured: len(opts.PlacementHostAddresses) > 0,
	}
	for _, e := range set.HTTPEndpoints {
		info.HTTPEndpoints = append(info.HTTPEndpoints, e.Name())
	}
	for _, r := range set.Resiliencies {
		info.Resiliencies = append(info.Resiliencies, r.Metadata.Name)
	}
	if opts.AppPort > 0 {
		info.AppConnection = &runtimev1.AppConnectionProperties{
			Port: int32(opts.AppPort), Protocol: opts.AppProtocol, ChannelAddress: opts.AppChannelAddress,
			MaxConcurrency: int32(max(opts.AppMaxConcurrency, 0)),
		}
		if opts.EnableAppHealthCheck {
			h := &runtimev1.AppConnectionHealthProperties{
				HealthProbeInterval: opts.AppHealthProbeInterval.String(),
				HealthProbeTimeout:  opts.AppHealthProbeTimeout.String(),
				HealthThreshold:     int32(opts.AppHealthThreshold),
			}
			if opts.AppProtocol == "http" || opts.AppProtocol == "https" || opts.AppProtocol == "h2c" {
				h.HealthCheckPath = opts.AppHealthCheckPath
			}
			info.AppConnection.Health = h
		}
	}
	return info
}

// servers are the running API servers.
type servers struct {
	http     []*http.Server
	grpc     *grpc.Server
	internal *invocation // its internal gRPC server drains with the API
	wg       sync.WaitGroup
}

func startServers(ctx context.Context, opts options.Options, cfg *resources.Configuration, core *api.Core, inv *invocation, streamer apigrpc.Streamer, actorStreamer apigrpc.ActorStreamer, apiPipeline middleware.Pipeline, log *slog.Logger) (*servers, error) {
	forceExit := func() { os.Exit(1) }
	addrs := opts.ListenAddresses
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	httpLns, grpcLns, err := apiListeners(ctx, opts, addrs)
	if err != nil {
		return nil, err
	}

	s := &servers{internal: inv}
	access := apiaccess.New(cfg.Spec.API)
	apiHandler := apihttp.New(apihttp.Config{Core: core, APIToken: opts.APIToken, MaxBodySize: opts.MaxBodySize, ForceExit: forceExit, Log: log, Access: access,
		Pipeline: apiPipeline.WrapFunc()})
	var handler http.Handler = apiHandler
	if cfg.FeatureEnabled(featureHotReload) {
		handler = trackHTTPCalls(core, handler)
	}
	if apiLoggingEnabled(opts, cfg) {
		handler = apihttp.APILogging(log, apihttp.APILoggingOptions{
			ObfuscateURLs: cfg.Spec.Logging.APILogging.ObfuscateURLs, OmitHealthChecks: cfg.Spec.Logging.APILogging.OmitHealthChecks}, handler)
	}
	if opts.AllowedOrigins != "" {
		handler = apihttp.CORS(opts.AllowedOrigins, handler)
	}
	handler = core.Tracing().HTTPMiddleware(handler)
	handler = core.Metrics().HTTPMiddleware(handler) // outermost: sees every answer
	for _, ln := range httpLns {
		hs := newHTTPServer(handler, opts)
		s.http = append(s.http, hs)
		s.serve(log, "HTTP API", ln.Addr(), func() error { return hs.Serve(ln) })
	}
	s.grpc = apigrpc.NewServer(apigrpc.Config{Core: core, APIToken: opts.APIToken, MaxBodySize: opts.MaxBodySize, ReadBufferSize: opts.ReadBufferSize / 1024, ForceExit: forceExit, ActorStreamer: actorStreamer,
		Streamer: streamer, ExtraOptions: append(append(append(core.Metrics().GRPCServerOptions(), core.Tracing().GRPCServerOptions(opts.AppID)...), grpcServerOptions(opts, cfg, access, inv, log)...), trackGRPCCalls(cfg, core)...)})
	for _, ln := range grpcLns {
		s.serve(log, "gRPC API", ln.Addr(), func() error { return s.grpc.Serve(ln) })
	}
	if opts.PublicPort > 0 {
		if err := s.startPublic(ctx, opts, apiHandler, log); err != nil {
			s.stop(0, log)
			return nil, err
		}
	}
	if opts.EnableProfiling {
		if err := s.startProfiling(ctx, addrs, opts.ProfilePort, log); err != nil {
			s.stop(0, log)
			return nil, err
		}
	}
	return s, nil
}

// apiListeners binds the HTTP and gRPC API: on Unix sockets when
// --unix-domain-socket is set, else on every listen address.
func apiListeners(ctx context.Context, opts options.Options, addrs []string) (httpLns, grpcLns []net.Listener, err error) {
	if opts.UnixDomainSocket != "" {
		h, err := listenUnix(filepath.Join(opts.UnixDomainSocket, "dapr-"+opts.AppID+"-http.socket"))
		if err != nil {
			return nil, nil, fmt.Errorf("HTTP API: %w", err)
		}
		g, err := listenUnix(filepath.Join(opts.UnixDomainSocket, "dapr-"+opts.AppID+"-grpc.socket"))
		if err != nil {
			_ = h.Close()
			return nil, nil, fmt.Errorf("gRPC API: %w", err)
		}
		return []net.Listener{h}, []net.Listener{g}, nil
	}
	httpLns, err = listenAll(ctx, addrs, opts.HTTPPort)
	if err != nil {
		return nil, nil, fmt.Errorf("HTTP API: %w", err)
	}
	grpcLns, err = listenAll(ctx, addrs, opts.GRPCPort)
	if err != nil {
		closeAll(httpLns)
		return nil, nil, fmt.Errorf("gRPC API: %w", err)
	}
	return httpLns, grpcLns, nil
}

// listenUnix binds a Unix socket, replacing a stale socket file left by a
// previous run.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %s: %w", path, err)
	}
	return ln, nil
}

// startPublic serves health and metadata on --dapr-public-port.
func (s *servers) startPublic(ctx context.Context, opts options.Options, h *apihttp.Handler, log *slog.Logger) error {
	addr := []string{opts.PublicListenAddress}
	lns, err := listenAll(ctx, addr, opts.PublicPort)
	if err != nil {
		return fmt.Errorf("public HTTP server: %w", err)
	}
	for _, ln := range lns {
		hs := newHTTPServer(apihttp.PublicHandler(h), opts)
		s.http = append(s.http, hs)
		s.serve(log, "public HTTP", ln.Addr(), func() error { return hs.Serve(ln) })
	}
	return nil
}

// grpcServerOptions are the API server's interceptors and proxy handler:
// the API lists first, then API logging, then the proxy to app services.
func grpcServerOptions(opts options.Options, cfg *resources.Configuration, access *apiaccess.Rules, inv *invocation, log *slog.Logger) []grpc.ServerOption {
	out := apigrpc.AccessOptions(access)
	if apiLoggingEnabled(opts, cfg) {
		out = append(out, apigrpc.APILoggingOptions(log, cfg.Spec.Logging.APILogging.OmitHealthChecks)...)
	}
	return append(out, grpcproxy.ServerOptions(inv.proxyConfig(opts, grpcproxy.Caller))...)
}

// apiLoggingEnabled applies the tri-state --enable-api-logging flag, falling
// back to the Configuration's logging.apiLogging.enabled.
func apiLoggingEnabled(opts options.Options, cfg *resources.Configuration) bool {
	if opts.EnableAPILogging != nil {
		return *opts.EnableAPILogging
	}
	return cfg.Spec.Logging.APILogging.Enabled
}

func newHTTPServer(h http.Handler, opts options.Options) *http.Server {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    opts.ReadBufferSize,
		ErrorLog:          nil,
	}
	// Dapr accepts cleartext HTTP/2 unless DAPR_HTTP_DISABLE_H2C is set.
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(!opts.DisableH2C)
	hs.Protocols = &p
	return hs
}

func (s *servers) serve(log *slog.Logger, name string, addr net.Addr, fn func() error) {
	log.Info(name+" listening", "address", addr.String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error(name+" server stopped", "error", err)
		}
	}()
}

// stop drains the servers within grace, then forces them closed.
func (s *servers) stop(grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, hs := range s.http {
		wg.Add(1)
		go func(hs *http.Server) {
			defer wg.Done()
			if err := hs.Shutdown(ctx); err != nil {
				log.Warn("HTTP API did not drain in time; closing", "error", err)
				_ = hs.Close()
			}
		}(hs)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			if s.internal != nil {
				s.internal.stopServer(ctx)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			log.Warn("gRPC API did not drain in time; closing")
			s.grpc.Stop()
			if s.internal != nil {
				s.internal.stopServerNow()
			}
		}
	}()
	wg.Wait()
	s.wg.Wait()
}

// listenAll binds port on every address, retrying with backoff for up to
// 10s as daprd does (a previous instance may still be releasing the port).
// It fails only if no address could be bound.
func listenAll(ctx context.Context, addrs []string, port int) ([]net.Listener, error) {
	var lns []net.Listener
	var errs []error
	for _, a := range addrs {
		ln, err := listenRetry(ctx, net.JoinHostPort(a, strconv.Itoa(port)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lns = append(lns, ln)
	}
	if len(lns) == 0 {
		return nil, fmt.Errorf("could not listen on any endpoint: %w", errors.Join(errs...))
	}
	return lns, nil
}

func listenRetry(ctx context.Context, addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	wait := 100 * time.Millisecond
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return rawsock.Listener{Listener: ln}, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("failed to listen on %s: %w (is another sidecar using this port? pick another with --dapr-http-port/--dapr-grpc-port)", addr, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}
