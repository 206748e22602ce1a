// Package api is the transport-neutral core of the Dapr API: every operation
// is implemented once here, taking and returning Dapr's proto messages. The
// http and grpc subpackages only translate the wire format.
package api

import (
	"sync"
	"sync/atomic"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// Core serves the Dapr API for one sidecar.
type Core struct {
	appID     string
	namespace string

	// set holds the current components (components.go); a hot reload
	// swaps it.
	set atomic.Pointer[componentSet]
	// configSubs tracks configuration subscriptions (configuration.go).
	configSubs *configSubscriptions
	invoker    Invoker
	outbox     Outbox
	// actors is the actor runtime; nil when no placement is configured.
	actors *actors.Runtime
	// resiliency holds the policies for component calls; nil applies none.
	resiliency *resiliency.Provider
	// metrics records component calls; nil records nothing.
	metrics *metrics.Metrics
	// tracing starts publish spans; nil traces nothing.
	tracing *tracing.Provider

	health   health
	metadata *Metadata

	secretScopes func(store, key string) bool

	shutdownOnce sync.Once
	shutdown     func()
}

// Config wires a Core.
type Config struct {
	AppID       string
	Namespace   string
	StateStores []*state.Component
	PubSubs     []*pubsub.Component
	Secrets     []*secretstores.Component
	Locks       []*lock.Component
	Configs     []*configuration.Component
	Crypto      []*crypto.Component
	Outputs     []*OutputBinding
	// SecretScopes applies Configuration spec.secrets.scopes; nil allows all.
	SecretScopes func(store, key string) bool
	Metadata     *Metadata
	// Invoker performs service invocation; nil answers "not ready".
	Invoker Invoker
	// Actors is the actor runtime; nil disables the actor API
	// (ERR_ACTOR_NO_PLACEMENT).
	Actors *actors.Runtime
	// Outbox serves stores with a transactional outbox; nil when none has.
	Outbox Outbox
	// Resiliency applies Resiliency policies to component calls; nil
	// applies none.
	Resiliency *resiliency.Provider
	// Shutdown starts a graceful shutdown (from POST /v1.0/shutdown).
	Shutdown func()
	// Metrics records Dapr's component metrics; nil records nothing.
	Metrics *metrics.Metrics
	// Tracing records spans (publish) and is served to the transports; nil
	// traces nothing but still passes trace context on.
	Tracing *tracing.Provider
}

// New builds the core.
func New(cfg Config) *Core {
	c := &Core{appID: cfg.AppID, namespace: cfg.Namespace, invoker: cfg.Invoker, outbox: cfg.Outbox, metadata: cfg.Metadata, shutdown: cfg.Shutdown, actors: cfg.Actors}
	c.set.Store(newComponentSet(Components{
		StateStores: cfg.StateStores, PubSubs: cfg.PubSubs, Secrets: cfg.Secrets, Locks: cfg.Locks,
		Configs: cfg.Configs, Crypto: cfg.Crypto, Outputs: cfg.Outputs,
	}))
	c.secretScopes = cfg.SecretScopes
	c.resiliency = cfg.Resiliency
	c.metrics = cfg.Metrics
	c.tracing = cfg.Tracing
	c.configSubs = newConfigSubscriptions()
	if c.metadata == nil {
		c.metadata = NewMetadata(MetadataInfo{AppID: cfg.AppID})
	}
	return c
}

// AppID returns the sidecar's app id.
func (c *Core) AppID() string { return c.appID }

// health tracks the two readiness levels Dapr exposes.
type health struct {
	outbound atomic.Bool // components loaded, API servers up
	ready    atomic.Bool // fully initialised (app reachable)
}

// SetOutboundReady marks components loaded and servers started.
func (c *Core) SetOutboundReady() { c.health.outbound.Store(true) }

// SetReady marks the sidecar fully initialised.
func (c *Core) SetReady() { c.health.ready.Store(true) }

// Shutdown starts a graceful shutdown once.
func (c *Core) Shutdown() {
	c.shutdownOnce.Do(func() {
		if c.shutdown != nil {
			go c.shutdown()
		}
	})
}

// byName indexes components by name.
func byName[T any](list []T, name func(T) string) map[string]T {
	m := make(map[string]T, len(list))
	for _, x := range list {
		m[name(x)] = x
	}
	return m
}

// OutputBinding is a loaded output binding.
type OutputBinding struct {
	Name, Type, Version string
	Binding             bindings.Output
}
