package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/pubsub/delivery"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// reloadDebounce groups the burst of events one save makes (editors write,
// rename and chmod) into one reload.
const reloadDebounce = 200 * time.Millisecond

// hotReload watches the resources paths and runs the reloader on changes.
type hotReload struct {
	watcher *fsnotify.Watcher
	r       *reloader
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// hotReloadDeps is what startHotReload needs from Run.
type hotReloadDeps struct {
	opts   options.Options
	cfg    *resources.Configuration
	env    componentEnv
	set    *resources.Set
	comps  *loaded
	core   *api.Core
	md     *api.Metadata
	engine *delivery.Engine
	inputs *inputs.Engine
	inv    *invocation
	res    *resiliency.Provider
	log    *slog.Logger
}

// startHotReload starts watching when the HotReload feature is enabled and
// there are resources paths; otherwise it returns nil (a nil *hotReload
// stops as a no-op).
func startHotReload(ctx context.Context, d hotReloadDeps) (*hotReload, error) {
	if !d.cfg.FeatureEnabled(featureHotReload) || len(d.opts.ResourcesPaths) == 0 {
		return nil, nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("hot reload: %w", err)
	}
	for _, p := range d.opts.ResourcesPaths {
		if err := w.Add(watchDir(p)); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("hot reload: watching %s: %w", p, err)
		}
	}
	live := make(map[string]resources.Component, len(d.set.Components))
	for _, c := range withBuiltinSecretStore(d.opts, d.set.Components) {
		live[componentKey(c)] = c
	}
	if d.comps.parts == nil {
		d.comps.parts = map[string]*loaded{}
	}
	h := &hotReload{watcher: w, r: &reloader{
		opts: d.opts, env: d.env, log: d.log, core: d.core, md: d.md, engine: d.engine, inputs: d.inputs,
		inv: d.inv, res: d.res, metrics: d.env.metrics, comps: d.comps, pinned: pinnedComponents(d.comps),
		set: d.set, live: live,
	}}
	runCtx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.run(runCtx)
	}()
	d.log.Info("hot reload enabled: watching resources", "paths", d.opts.ResourcesPaths)
	return h, nil
}

// watchDir is the directory to watch for a resources path: the path
// itself, or the directory of a single file (editors replace files, which
// a watch on the file itself would lose).
func watchDir(p string) string {
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		return filepath.Dir(p)
	}
	return p
}

// run waits for file events and reloads once they settle.
func (h *hotReload) run(ctx context.Context) {
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-h.watcher.Events:
			if !ok {
				return
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue // a touch changes nothing we read
			}
			if timer == nil {
				timer = time.NewTimer(reloadDebounce)
			} else {
				timer.Reset(reloadDebounce)
			}
			fire = timer.C
		case err, ok := <-h.watcher.Errors:
			if !ok {
				return
			}
			h.r.log.Warn("hot reload: file watcher error", "error", err)
		case <-fire:
			fire = nil
			h.r.log.Info("hot reload: resource files changed; reloading")
			h.r.reload(ctx)
		}
	}
}

// stop ends the watcher and waits for a reload in progress.
func (h *hotReload) stop() {
	if h == nil {
		return
	}
	h.cancel()
	_ = h.watcher.Close()
	h.wg.Wait()
}

// pinnedComponents are the components other parts of the sidecar hold
// directly, outside the Core: actor and outbox state stores (and the
// outbox's pub/subs) and middleware.
func pinnedComponents(l *loaded) map[string]bool {
	pinned := map[string]bool{}
	for _, s := range l.stateStores {
		if s.ActorStore {
			pinned[string(resources.CategoryState)+"/"+s.Name] = true
		}
	}
	for _, o := range l.outboxes {
		pinned[string(resources.CategoryState)+"/"+o.Store] = true
		pinned[string(resources.CategoryPubSub)+"/"+o.PublishPubSub] = true
		pinned[string(resources.CategoryPubSub)+"/"+o.InternalPubSub] = true
	}
	for _, m := range l.middlewares {
		pinned[string(resources.CategoryMiddleware)+"/"+m.Name] = true
	}
	return pinned
}

// trackHTTPCalls counts each API request against the component generation
// it started under, so a hot reload closes replaced components only after
// the requests that may hold them have returned.
func trackHTTPCalls(core *api.Core, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		leave := core.EnterCall()
		defer leave()
		next.ServeHTTP(w, req)
	})
}

// trackGRPCCalls does the same for unary gRPC calls, with hot reload on.
// Streams are not counted: they may stay open for hours, and the drain
// would only time out.
func trackGRPCCalls(cfg *resources.Configuration, core *api.Core) []grpc.ServerOption {
	if !cfg.FeatureEnabled(featureHotReload) {
		return nil
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		leave := core.EnterCall()
		defer leave()
		return handler(ctx, req)
	})}
}
