// Package delivery is the subscription and delivery engine: it discovers
// the app's subscriptions (declarative resources, GET /dapr/subscribe or
// ListTopicSubscriptions), subscribes through the brokers, routes each
// message with CEL rules and delivers it to the app over HTTP or gRPC (one
// by one or in bulk) or to a streaming subscriber, applying Dapr's response
// contract and dead-letter topics.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/cel-go/cel"

	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/inflight"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// RetryFunc runs one delivery attempt under an inbound resiliency policy:
// it calls op until it succeeds or the policy gives up, and returns the
// last error.
type RetryFunc func(ctx context.Context, pubsubName string, op func(ctx context.Context) error) error

// Config wires the engine.
type Config struct {
	AppID string
	// PubSubs are the loaded pub/sub components by name.
	PubSubs map[string]*pubsub.Component
	// Channel reaches the app; nil means there is no app (only streaming
	// subscriptions work then).
	Channel appchannel.Channel
	// Health pauses deliveries while the app is unhealthy; nil means the
	// app is always healthy.
	Health *appchannel.Health
	// Declarative are the loaded Subscription resources, in load order.
	Declarative []resources.Subscription
	// AppAPIToken is sent as dapr-api-token on direct gRPC calls to the app
	// (the HTTP channel adds it itself).
	AppAPIToken string
	// MaxConcurrency caps in-flight gRPC deliveries (--app-max-concurrency);
	// HTTP deliveries are capped by the channel. <=0 means unlimited.
	MaxConcurrency int
	// Retry, when set, retries failed deliveries (resiliency); nil means
	// one attempt, after which the broker redelivers.
	Retry RetryFunc
	// Metrics records each delivery (pub/sub ingress); nil records nothing.
	Metrics *metrics.Metrics
	// Tracing starts a consumer span per delivery; nil only passes the
	// event's trace context on to the app.
	Tracing *tracing.Provider
	Logger  *slog.Logger
}

// Engine runs the app's subscriptions.
type Engine struct {
	cfg      Config
	log      *slog.Logger
	env      *cel.Env
	grpc     *grpcApp // nil for HTTP apps or without an app
	inflight *inflight.Tracker
	methods  sync.Map        // route → app channel method, see method
	backoff  []time.Duration // waits between discovery attempts

	// life bounds every delivery: it is cancelled only when Stop gives up
	// waiting for in-flight work.
	life context.Context
	kill context.CancelFunc
	quit chan struct{} // closed when Stop begins
	wg   sync.WaitGroup

	// compMu guards cfg.PubSubs, which a hot reload replaces (reload.go).
	compMu sync.RWMutex

	mu       sync.Mutex
	subs     []*subscription                      // app subscriptions, effective
	active   map[*subscription]context.CancelFunc // running broker subscriptions
	batchers map[*subscription]*batcher
	streams  []*subscription
	started  bool
	stopped  bool
}

// New builds an engine; nothing runs until Start.
func New(cfg Config) (*Engine, error) {
	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("pubsub delivery: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	life, kill := context.WithCancel(context.Background())
	e := &Engine{
		cfg:      cfg,
		log:      log.With("component", "pubsub-delivery"),
		env:      env,
		inflight: inflight.New(),
		backoff:  []time.Duration{500 * time.Millisecond, time.Second, time.Second},
		life:     life,
		kill:     kill,
		quit:     make(chan struct{}),
		active:   make(map[*subscription]context.CancelFunc),
		batchers: make(map[*subscription]*batcher),
	}
	if cfg.Channel != nil && cfg.Channel.GRPCConn() != nil {
		e.grpc = newGRPCApp(cfg.Channel.GRPCConn(), cfg.AppAPIToken, cfg.MaxConcurrency)
	}
	return e, nil
}

// Start discovers the app's subscriptions and subscribes to them (right
// away if the app is healthy, else once it becomes healthy). Call it once,
// after the app is reachable.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.started || e.stopped {
		e.mu.Unlock()
		return errors.New("pubsub delivery: already started")
	}
	e.started = true
	e.mu.Unlock()

	if e.cfg.Channel == nil || len(e.components()) == 0 {
		if len(e.cfg.Declarative) > 0 && e.cfg.Channel == nil {
			e.log.Info("no app channel: declarative subscriptions are not started")
		}
		return nil
	}
	subs := e.collect(ctx)

	e.mu.Lock()
	e.subs = subs
	for _, s := range subs {
		if s.bulk.enabled {
			e.startBatcher(s)
		}
	}
	e.mu.Unlock()

	if e.cfg.Health != nil {
		e.cfg.Health.OnChange(e.onHealth)
	}
	e.resume() // a no-op while unhealthy: the first healthy probe resumes
	return nil
}

// startBatcher runs the batch loop of a bulk subscription; e.mu is held.
func (e *Engine) startBatcher(s *subscription) {
	b := newBatcher(e, s)
	e.batchers[s] = b
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		b.run(e.life)
	}()
}

// onHealth pauses or resumes the app subscriptions. Messages stay with the
// broker meanwhile; in-flight deliveries finish.
func (e *Engine) onHealth(healthy bool) {
	if healthy {
		e.log.Info("app is healthy: resuming subscriptions")
		e.resume()
		return
	}
	e.log.Warn("app is unhealthy: pausing subscriptions")
	e.mu.Lock()
	e.cancelActive()
	e.mu.Unlock()
}

// resume subscribes every app subscription that is not running, if the
// app is healthy. Checking health under e.mu orders it with pauses.
func (e *Engine) resume() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || (e.cfg.Health != nil && !e.cfg.Health.Healthy()) {
		return
	}
	for _, s := range e.subs {
		if _, ok := e.active[s]; ok {
			continue
		}
		if err := e.subscribe(s); err != nil {
			e.log.Error("subscribing failed", "pubsub", s.pubsub, "topic", s.topic, "error", err)
		}
	}
}

// subscribe starts one app subscription at the broker; e.mu is held.
func (e *Engine) subscribe(s *subscription) error {
	comp := e.component(s.pubsub)
	ctx, cancel := context.WithCancel(e.life)
	deliver := e.appDeliverer()
	if b := e.batchers[s]; b != nil {
		deliver = b.submit
	}
	req := pubsub.SubscribeRequest{Topic: comp.Topic(s.topic), Metadata: s.metadata}
	if err := comp.Broker.Subscribe(ctx, req, e.handler(comp, s, deliver)); err != nil {
		cancel()
		return fmt.Errorf("subscribing to topic %s on pubsub %s: %w", s.topic, s.pubsub, err)
	}
	e.active[s] = cancel
	e.log.Info("subscribed", "pubsub", s.pubsub, "topic", s.topic, "type", s.kind.String())
	return nil
}

// cancelActive stops taking messages from the brokers; e.mu is held.
func (e *Engine) cancelActive() {
	for s, cancel := range e.active {
		cancel()
		delete(e.active, s)
	}
}

// Stop stops taking new messages (app and streaming subscriptions) and
// waits for in-flight deliveries until ctx is done; then it aborts them
// (they are not acknowledged, so the broker redelivers).
func (e *Engine) Stop(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	close(e.quit)
	e.cancelActive()
	e.mu.Unlock()

	idle := e.inflight.Close()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = fmt.Errorf("pubsub delivery: in-flight deliveries aborted: %w", ctx.Err())
	}
	e.kill()
	e.wg.Wait()
	<-idle // aborted deliveries return promptly once life is cancelled
	return err
}

// Subscriptions lists the effective subscriptions for the metadata API:
// declarative and programmatic ones, then open streaming subscriptions.
func (e *Engine) Subscriptions() []*runtimev1.PubsubSubscription {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*runtimev1.PubsubSubscription, 0, len(e.subs)+len(e.streams))
	for _, s := range e.subs {
		out = append(out, s.proto())
	}
	for _, s := range e.streams {
		out = append(out, s.proto())
	}
	return out
}
