// Package inputs delivers input binding events to the app: it finds out
// which bindings the app wants (HTTP OPTIONS /<route>, or gRPC
// ListInputBindings), starts reading them, and hands each event to the
// app (HTTP POST /<route>, or gRPC OnBindingEvent). Reading pauses while
// the app is unhealthy and resumes when it is healthy again.
//
// Pausing cancels the context given to Input.Read; resuming calls Read
// again with a new one, so inputs must accept a new Read after an earlier
// context ended.
package inputs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/inflight"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// Binding is one loaded input binding.
type Binding struct {
	Name string
	// Route is the app path for the probe and deliveries; "" means Name.
	Route string
	Input bindings.Input
	// Explicit is set when the component's direction metadata names
	// "input" (bindings.ExplicitInput): the app is not asked first.
	Explicit bool
}

func (b *Binding) route() string {
	if b.Route != "" {
		return b.Route
	}
	return b.Name
}

// OutputFunc invokes an output binding (for a gRPC app's `to` answer).
type OutputFunc func(ctx context.Context, name string, req *bindings.InvokeRequest) (*bindings.InvokeResponse, error)

// RetryFunc runs one delivery under the binding's inbound resiliency
// policy: it calls op until it succeeds or the policy gives up, returns
// the last error, and returns only after op's last call has returned.
type RetryFunc func(ctx context.Context, bindingName string, op func(ctx context.Context) error) error

// SaveStateFunc saves state items (for a gRPC app's `states` answer).
type SaveStateFunc func(ctx context.Context, store string, items []*commonv1.StateItem) error

// Config wires the engine.
type Config struct {
	Bindings []*Binding
	// Channel reaches the app; nil means there is no app and nothing is
	// delivered.
	Channel appchannel.Channel
	// Health pauses reading while the app is unhealthy; nil means the app
	// is always healthy.
	Health *appchannel.Health
	// AppAPIToken is sent as dapr-api-token on gRPC calls to the app (the
	// HTTP channel adds it itself).
	AppAPIToken string
	// MaxConcurrency caps in-flight gRPC deliveries; <=0 is unlimited.
	MaxConcurrency int
	// OptionsTimeout bounds each discovery call (--app-binding-options-timeout);
	// <=0 means 3s.
	OptionsTimeout time.Duration
	// SendToOutput and SaveState carry out a gRPC app's answer; nil
	// ignores that part of the answer.
	SendToOutput OutputFunc
	SaveState    SaveStateFunc
	// Retry, when set, retries failed deliveries (resiliency); nil means
	// one attempt.
	Retry RetryFunc
	// Tracing starts a span per delivered event; nil only passes a trace
	// context found in the event metadata on to the app.
	Tracing *tracing.Provider
	Logger  *slog.Logger
}

// Engine runs the input bindings.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	grpc     *grpcApp // nil for HTTP apps
	inflight *inflight.Tracker

	// life bounds every delivery: cancelled only when Stop gives up waiting.
	life context.Context
	kill context.CancelFunc
	wg   sync.WaitGroup // parallel fan-outs to output bindings

	mu      sync.Mutex
	active  map[*Binding]context.CancelFunc // bindings being read
	started bool
	stopped bool
}

// ErrNotDelivering is returned to a binding that hands over an event while
// the app is unhealthy or the engine is stopping.
var ErrNotDelivering = errors.New("input bindings: not delivering to the app now")

// New builds an engine; nothing runs until Start.
func New(cfg Config) *Engine {
	if cfg.OptionsTimeout <= 0 {
		cfg.OptionsTimeout = 3 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	life, kill := context.WithCancel(context.Background())
	e := &Engine{
		cfg:      cfg,
		log:      log.With("component", "input-bindings"),
		inflight: inflight.New(),
		life:     life,
		kill:     kill,
		active:   make(map[*Binding]context.CancelFunc),
	}
	if cfg.Channel != nil && cfg.Channel.GRPCConn() != nil {
		e.grpc = newGRPCApp(cfg.Channel.GRPCConn(), cfg.AppAPIToken, cfg.MaxConcurrency)
	}
	return e
}

// Start starts reading the bindings the app wants, right away if the app
// is healthy, else once it is. Call it once, after the app is reachable.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started || e.stopped {
		e.mu.Unlock()
		return errors.New("input bindings: already started")
	}
	e.started = true
	n := len(e.cfg.Bindings)
	e.mu.Unlock()
	if e.cfg.Channel == nil {
		if n > 0 {
			e.log.Info("no app channel: input bindings are not started")
		}
		return nil
	}
	// Health is watched even without bindings: a hot reload may add some.
	if e.cfg.Health != nil {
		e.cfg.Health.OnChange(e.onHealth)
	}
	e.resume(ctx)
	return nil
}

func (e *Engine) healthy() bool {
	return e.cfg.Health == nil || e.cfg.Health.Healthy()
}

// onHealth pauses or resumes reading; in-flight deliveries finish.
func (e *Engine) onHealth(healthy bool) {
	if healthy {
		e.log.Info("app is healthy: resuming input bindings")
		e.resume(e.life)
		return
	}
	e.log.Warn("app is unhealthy: pausing input bindings")
	e.mu.Lock()
	e.cancelActive()
	e.mu.Unlock()
}

// resume asks the app about every binding not being read and starts the
// ones it wants. The app is asked without holding the lock; health is
// checked again under it, which orders this with a pause.
func (e *Engine) resume(ctx context.Context) {
	for _, b := range e.idle() {
		ok, err := e.subscribed(ctx, b)
		if err != nil {
			e.log.Error("asking the app about an input binding failed", "binding", b.Name, "error", err)
			continue
		}
		if !ok {
			e.log.Info("app has not subscribed to binding", "binding", b.Name)
			continue
		}
		e.startReading(b)
	}
}

// idle lists the bindings not being read, or none when delivery is off.
func (e *Engine) idle() []*Binding {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || !e.healthy() {
		return nil
	}
	var out []*Binding
	for _, b := range e.cfg.Bindings {
		if _, ok := e.active[b]; !ok {
			out = append(out, b)
		}
	}
	return out
}

func (e *Engine) startReading(b *Binding) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.active[b]; ok || e.stopped || !e.healthy() {
		return
	}
	ctx, cancel := context.WithCancel(e.life)
	if err := b.Input.Read(ctx, e.handler(b)); err != nil {
		cancel()
		e.log.Error("error reading from input binding", "binding", b.Name, "error", err)
		return
	}
	e.active[b] = cancel
	e.log.Info("reading from input binding", "binding", b.Name, "route", b.route())
}

// cancelActive stops reading every binding; e.mu is held.
func (e *Engine) cancelActive() {
	for b, cancel := range e.active {
		cancel()
		delete(e.active, b)
	}
}

// Reading lists the bindings being read, by name.
func (e *Engine) Reading() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.active))
	for b := range e.active {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

// Stop stops reading and waits for in-flight deliveries until ctx is done;
// then it aborts them.
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.cancelActive()
	e.mu.Unlock()

	idle := e.inflight.Close()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("input bindings: in-flight deliveries aborted: %w", ctx.Err())
	}
	e.kill()
	<-idle // aborted deliveries return promptly once life is cancelled
	e.wg.Wait()
	return err
}

// handler delivers one event of b to the app and returns the app's answer
// to the binding; an error means the app did not take the event.
func (e *Engine) handler(b *Binding) bindings.EventHandler {
	return func(ctx context.Context, ev *bindings.Event) ([]byte, error) {
		if !e.healthy() || !e.inflight.Enter() {
			return nil, ErrNotDelivering
		}
		defer e.inflight.Leave()
		// A pause cancels the read context; a delivery already under way
		// still finishes. Only Stop's deadline aborts it.
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		stop := context.AfterFunc(e.life, cancel)
		defer stop()
		dctx, span := e.cfg.Tracing.StartInputBinding(dctx, b.Name, ev.Metadata)
		out, err := e.deliver(dctx, b, ev)
		tracing.End(span, err)
		return out, err
	}
}

// deliver hands ev to the app over its protocol, under the resiliency
// policy if there is one.
func (e *Engine) deliver(ctx context.Context, b *Binding, ev *bindings.Event) ([]byte, error) {
	var out []byte
	op := func(ctx context.Context) (err error) {
		if e.grpc != nil {
			out, err = e.deliverGRPC(ctx, b, ev)
		} else {
			out, err = e.deliverHTTP(ctx, b, ev)
		}
		return err
	}
	if e.cfg.Retry == nil {
		return out, op(ctx)
	}
	return out, e.cfg.Retry(ctx, b.Name, op)
}

// subscribed reports whether the app wants b's events.
func (e *Engine) subscribed(ctx context.Context, b *Binding) (bool, error) {
	if b.Explicit {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.OptionsTimeout)
	defer cancel()
	if e.grpc != nil {
		names, err := e.grpc.listBindings(ctx)
		return slices.Contains(names, b.Name), err
	}
	return e.probeHTTP(ctx, b)
}
