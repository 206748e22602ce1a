package actors

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/state"
)

// Config wires a Runtime.
type Config struct {
	AppID string
	// HostName is this sidecar's name in the placement table
	// ("<host>:<internal gRPC port>").
	HostName  string
	Placement Placement
	// App hosts the actors; nil when the sidecar has no app (it then hosts
	// no types but still routes calls to other hosts).
	App App
	// StateStore is the store marked actorStateStore; nil fails state
	// operations with ErrNoStateStore.
	StateStore *state.Component
	Timers     Timers
	Reminders  Reminders
	// Dial returns the pooled connection to another sidecar's internal
	// gRPC server.
	Dial func(ctx context.Context, addr string) (grpc.ClientConnInterface, error)
	// DisseminateTimeout is --actors-disseminate-timeout; drains are kept
	// inside it.
	DisseminateTimeout time.Duration
	// StateTTL allows ttlInSeconds on actor state (the ActorStateTTL
	// feature).
	StateTTL bool
	// ForwardTimeout bounds a call forwarded to another sidecar when the
	// caller set no deadline, so a stuck peer fails only its own calls;
	// 0 means 60s.
	ForwardTimeout time.Duration
	// ScanInterval is how often idle actors are looked for; 0 means 30s
	// (shorter when an idle timeout is shorter).
	ScanInterval time.Duration
	// Observer records actor metrics; nil records nothing.
	Observer Observer
	// Resiliency holds the actor policies; nil applies none.
	Resiliency *resiliency.Provider
	Log        *slog.Logger
}

const (
	defaultForwardTimeout = 60 * time.Second
	// deactivateTimeout bounds the app's deactivation callback.
	deactivateTimeout = 10 * time.Second
	// drainParallelism bounds concurrent deactivations during a rebalance.
	drainParallelism = 64
)

// Runtime is the actor runtime of one sidecar. It implements TableListener.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	table *table

	// gen counts placement changes: a local call checks, once it holds an
	// actor's turn, that no change happened since it looked the owner up.
	gen    atomic.Uint64
	conf   atomic.Pointer[hostConfig] // nil until the app config is loaded
	unwell atomic.Bool                // app reported unhealthy
	closed atomic.Bool

	// confChanged wakes the idle scan when conf changes (buffered, 1).
	confChanged chan struct{}

	mu      sync.Mutex
	runCtx  context.Context // for background work started by callbacks
	wg      sync.WaitGroup  // background work
	hosting []string        // types last reported to placement
}

// New builds a Runtime. Call Run to start it.
func New(cfg Config) *Runtime {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = defaultForwardTimeout
	}
	if cfg.DisseminateTimeout <= 0 {
		cfg.DisseminateTimeout = defaultDisseminateLimit
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return &Runtime{cfg: cfg, log: cfg.Log.With("component", "actors"), table: newTable(), runCtx: context.Background(), confChanged: make(chan struct{}, 1)}
}

// Run keeps the placement connection and deactivates idle actors until ctx
// ends. Call Shutdown before cancelling ctx to drain active actors.
func (r *Runtime) Run(ctx context.Context) error {
	r.mu.Lock()
	r.runCtx = ctx
	r.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.scanIdle(ctx)
	}()
	err := r.cfg.Placement.Run(ctx)
	wg.Wait()
	r.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// LoadAppConfig fetches the app's actor configuration (once the app is
// healthy) and reports the hosted types to placement.
func (r *Runtime) LoadAppConfig(ctx context.Context) error {
	var ac AppConfig
	if r.cfg.App != nil {
		var err error
		if ac, err = r.cfg.App.Config(ctx); err != nil {
			return err
		}
	}
	r.ApplyAppConfig(ac)
	return nil
}

// ApplyAppConfig sets the app's actor configuration and reports the hosted
// types to placement. A gRPC app pushes a new one whenever its actor
// stream changes.
func (r *Runtime) ApplyAppConfig(ac AppConfig) {
	hc := resolveConfig(ac, r.cfg.DisseminateTimeout)
	r.conf.Store(&hc)
	select {
	case r.confChanged <- struct{}{}:
	default:
	}
	if len(hc.types) > 0 {
		r.log.Info("actor runtime configured", "types", hc.types, "idle_timeout", hc.base.idleTimeout.String(), "reentrancy", hc.base.reentrant)
	}
	r.reportHosted()
}

// SetAppHealthy tells the runtime about the app's health: an unhealthy app
// hosts no types, so placement moves its actors elsewhere.
func (r *Runtime) SetAppHealthy(healthy bool) {
	r.unwell.Store(!healthy)
	r.reportHosted()
}

// HostedTypes returns the actor types this sidecar hosts now.
func (r *Runtime) HostedTypes() []string {
	hc := r.conf.Load()
	if hc == nil || r.unwell.Load() || r.closed.Load() {
		return nil
	}
	return hc.types
}

// hostsType reports whether the app hosts actorType (whatever its health).
func (r *Runtime) hostsType(actorType string) bool {
	hc := r.conf.Load()
	return hc != nil && hc.hosts(actorType)
}

func (r *Runtime) reportHosted() {
	// Read the types under mu so concurrent changes report in order.
	r.mu.Lock()
	defer r.mu.Unlock()
	types := r.HostedTypes()
	if equalStrings(types, r.hosting) && r.hosting != nil {
		return
	}
	r.hosting = append([]string{}, types...)
	r.cfg.Placement.SetHostedTypes(r.hosting)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// typeConfig returns the effective configuration of actorType.
func (r *Runtime) typeConfig(actorType string) typeConfig {
	if hc := r.conf.Load(); hc != nil {
		return hc.forType(actorType)
	}
	return resolveConfig(AppConfig{}, r.cfg.DisseminateTimeout).base
}

// Shutdown stops taking calls, reports no hosted types, and deactivates
// every active actor, waiting for in-flight calls bounded by ctx.
func (r *Runtime) Shutdown(ctx context.Context) {
	if r.closed.Swap(true) {
		return
	}
	r.reportHosted()
	r.gen.Add(1)
	r.drain(ctx, r.table.snapshot())
}

// Status is the actor runtime's state for the metadata API.
type Status struct {
	// Running is false until the app's actor configuration is loaded.
	Running      bool
	ActiveActors map[string]int
	HostReady    bool
	// Connected is nil when the placement client cannot tell.
	Connected *bool
}

// Status reports the runtime's state.
func (r *Runtime) Status() Status {
	s := Status{Running: r.conf.Load() != nil, ActiveActors: r.table.counts()}
	s.HostReady = s.Running && !r.closed.Load()
	if c, ok := r.cfg.Placement.(Connectivity); ok {
		connected := c.Connected()
		s.Connected = &connected
		s.HostReady = s.HostReady && connected
	}
	return s
}

// background runs fn on the runtime's run context, owned by Run.
func (r *Runtime) background(fn func(ctx context.Context)) {
	r.mu.Lock()
	ctx := r.runCtx
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		fn(ctx)
	}()
}
