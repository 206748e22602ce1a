package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/middleware"
	"github.com/outrigger/outrigger/internal/outbox"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/registry"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// loaded holds the initialised components of one sidecar.
type loaded struct {
	stateStores []*state.Component
	pubsubs     []*pubsub.Component
	secrets     []*secretstores.Component
	locks       []*lock.Component
	configs     []*configuration.Component
	cryptos     []*crypto.Component
	middlewares []*middleware.Component
	outputs     []*api.OutputBinding
	inputs      []*inputs.Binding
	outboxes    []outbox.StoreConfig // stores whose metadata enables the outbox
	registered  []*runtimev1.RegisteredComponents
	closers     []func() error
	// parts holds what each component added, by componentKey, so a hot
	// reload can replace one component (hotreload_parts.go).
	parts map[string]*loaded
}

// close releases components in reverse load order.
func (l *loaded) close(log *slog.Logger) {
	for i := len(l.closers) - 1; i >= 0; i-- {
		if err := l.closers[i](); err != nil {
			log.Warn("closing component failed", "error", err)
		}
	}
}

// componentEnv is what building components needs from the sidecar.
type componentEnv struct {
	appID     string
	namespace string
	denied    []string // Configuration components.deny entries
	log       *slog.Logger

	// defaultSecretStore serves secretKeyRefs without auth.secretStore.
	defaultSecretStore string
	// metrics records components loaded and failed; nil records nothing.
	metrics *metrics.Metrics
}

// loadComponents initialises every component in load order. A component
// that fails stops startup unless it sets ignoreErrors.
func loadComponents(ctx context.Context, env componentEnv, comps []resources.Component) (*loaded, error) {
	l := &loaded{}
	// Secret stores first: other components' secretKeyRefs read from them.
	for _, c := range secretStoresFirst(comps) {
		if deniedType(env.denied, c.Spec.Type, c.Spec.Version) {
			env.log.Warn("component type denied by configuration; not loading it", "component", c.Name(), "type", c.Spec.Type)
			continue
		}
		mark := l.mark()
		err := l.load(ctx, env, c)
		if err == nil {
			l.recordPart(c, mark)
			env.metrics.ComponentLoaded(c.Spec.Type)
			continue
		}
		if errors.Is(err, errUnsupportedCategory) {
			env.log.Warn("component skipped: its building block is not available in this version yet", "component", c.Name(), "type", c.Spec.Type, "file", c.Source.String())
			continue
		}
		env.metrics.ComponentInitFailed(c.Spec.Type, metrics.InitFailInit, c.Name())
		err = fmt.Errorf("component %q (%s) from %s: %w", c.Name(), c.Spec.Type, c.Source, err)
		if c.Spec.IgnoreErrors {
			env.log.Warn("component failed to initialise; continuing because ignoreErrors is set", "error", err)
			continue
		}
		l.close(env.log)
		return nil, err
	}
	if err := checkActorStores(l.stateStores); err != nil {
		l.close(env.log)
		return nil, err
	}
	return l, nil
}

// propertyOptions resolves metadata values; secretKeyRef reads from the
// secret stores loaded so far (they load first).
func (l *loaded) propertyOptions(env componentEnv) resources.PropertyOptions {
	opts := resources.PropertyOptions{AppID: env.appID, Namespace: env.namespace}
	if len(l.secrets) > 0 {
		stores := make(map[string]*secretstores.Component, len(l.secrets))
		for _, s := range l.secrets {
			stores[s.Name] = s
		}
		opts.ResolveSecret = secretstores.Resolver(stores, env.defaultSecretStore)
	}
	return opts
}

var errUnsupportedCategory = errors.New("unsupported component category")

func (l *loaded) load(ctx context.Context, env componentEnv, c resources.Component) error {
	switch c.Category() {
	case resources.CategoryState:
		return l.loadState(ctx, env, c)
	case resources.CategoryPubSub:
		return l.loadPubSub(ctx, env, c)
	case resources.CategorySecretStores:
		return l.loadSecretStore(ctx, env, c)
	case resources.CategoryLock:
		return l.loadLock(ctx, env, c)
	case resources.CategoryConfiguration:
		return l.loadConfiguration(ctx, env, c)
	case resources.CategoryBindings:
		return l.loadBinding(ctx, env, c)
	case resources.CategoryCrypto:
		return l.loadCrypto(ctx, env, c)
	case resources.CategoryMiddleware:
		return l.loadMiddleware(ctx, env, c)
	default:
		return errUnsupportedCategory
	}
}

func (l *loaded) loadState(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	keys, err := state.NewKeyScheme(lookupFold(props, "keyPrefix"), env.appID, c.Name(), env.namespace)
	if err != nil {
		return err
	}
	box, hasOutbox, err := outbox.ParseStoreConfig(c.Name(), props)
	if err != nil {
		return err
	}
	initCtx, cancel := context.WithTimeout(ctx, c.InitTimeout())
	defer cancel()
	store, err := state.Open(initCtx, c.Spec.Type, c.Spec.Version, state.Metadata{Name: c.Name(), Properties: props})
	if err != nil {
		if initCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("%w (init did not finish within initTimeout %s)", err, c.InitTimeout())
		}
		return err
	}
	sc := state.NewComponent(c.Name(), c.Spec.Type, registry.NormalizeVersion(c.Spec.Version), store, keys, c.IsActorStateStore())
	l.stateStores = append(l.stateStores, sc)
	if hasOutbox {
		l.outboxes = append(l.outboxes, box)
	}
	l.closers = append(l.closers, store.Close)
	l.registered = append(l.registered, &runtimev1.RegisteredComponents{Name: sc.Name, Type: sc.Type, Version: sc.Version, Capabilities: sc.Capabilities()})
	env.log.Info("component loaded", "name", c.Name(), "type", c.Spec.Type, "version", sc.Version)
	return nil
}

func (l *loaded) loadPubSub(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	// Brokers put subscribers of one app id in one consumer group.
	if lookupFold(props, pubsub.MetaConsumerID) == "" {
		props[pubsub.MetaConsumerID] = env.appID
	}
	scopes, err := pubsub.ParseScopes(env.appID, props)
	if err != nil {
		return err
	}
	b, err := pubsub.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	initCtx, cancel := context.WithTimeout(ctx, c.InitTimeout())
	defer cancel()
	if err := b.Init(initCtx, pubsub.Metadata{Name: c.Name(), Properties: props}); err != nil {
		_ = b.Close()
		if initCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("init %s: %w (init did not finish within initTimeout %s)", c.Spec.Type, err, c.InitTimeout())
		}
		return fmt.Errorf("init %s: %w", c.Spec.Type, err)
	}
	pc := pubsub.NewComponent(c.Name(), c.Spec.Type, registry.NormalizeVersion(c.Spec.Version), b, scopes)
	// A pub/sub whose metadata uses {namespace} is namespace-scoped in Dapr:
	// its topics carry the namespace as a prefix.
	if c.HasNamespaceTemplate() && env.namespace != "" {
		pc.NamespacePrefix = env.namespace
	}
	l.pubsubs = append(l.pubsubs, pc)
	l.closers = append(l.closers, b.Close)
	l.registered = append(l.registered, &runtimev1.RegisteredComponents{Name: pc.Name, Type: pc.Type, Version: pc.Version, Capabilities: pc.Capabilities()})
	env.log.Info("component loaded", "name", c.Name(), "type", c.Spec.Type, "version", pc.Version)
	return nil
}

// checkActorStores enforces Dapr's rule: at most one actor state store, and
// it must support ETAG and TRANSACTIONAL.
func checkActorStores(stores []*state.Component) error {
	var names []string
	for _, s := range stores {
		if !s.ActorStore {
			continue
		}
		names = append(names, s.Name)
		if !s.Has(state.FeatureETag) || !s.Has(state.FeatureTransactional) {
			return fmt.Errorf("state store %q is marked actorStateStore but %s lacks ETAG or TRANSACTIONAL support", s.Name, s.Type)
		}
	}
	if len(names) > 1 {
		return fmt.Errorf("only one state store may set actorStateStore: \"true\"; found %s", strings.Join(names, ", "))
	}
	return nil
}

// deniedType matches Configuration components.deny entries ("type" or
// "type/version").
func deniedType(denied []string, typ, version string) bool {
	for _, d := range denied {
		t, v, hasV := strings.Cut(d, "/")
		if !strings.EqualFold(t, typ) {
			continue
		}
		if !hasV || registry.NormalizeVersion(v) == registry.NormalizeVersion(version) {
			return true
		}
	}
	return false
}

// lookupFold reads a metadata key case-insensitively.
func lookupFold(props map[string]string, key string) string {
	if v, ok := props[key]; ok {
		return v
	}
	for k, v := range props {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// secretStoresFirst orders components so secret stores load before the
// rest, keeping load order otherwise.
func secretStoresFirst(comps []resources.Component) []resources.Component {
	out := make([]resources.Component, 0, len(comps))
	for _, c := range comps {
		if c.Category() == resources.CategorySecretStores {
			out = append(out, c)
		}
	}
	for _, c := range comps {
		if c.Category() != resources.CategorySecretStores {
			out = append(out, c)
		}
	}
	return out
}
