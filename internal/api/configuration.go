package api

import (
	"context"
	"errors"
	"sync"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// ConfigUpdater delivers the updates of HTTP configuration subscriptions
// to the app (see NewAppConfigUpdater), each call to the app under pol,
// the store's inbound resiliency policy.
type ConfigUpdater interface {
	UpdateConfiguration(ctx context.Context, store string, update *runtimev1.SubscribeConfigurationResponse, pol resiliency.Policy) error
}

// unsubscribeTimeout bounds stopping a subscription whose stream has ended.
const unsubscribeTimeout = 10 * time.Second

// errNoSubscription is reported for an unknown subscription id.
var errNoSubscription = errors.New("subscription does not exist")

// configSubscriptions tracks the running configuration subscriptions, so
// UnsubscribeConfiguration can find the store of an id and end a stream.
type configSubscriptions struct {
	mu      sync.Mutex
	updater ConfigUpdater
	subs    map[string]*configSub
}

type configSub struct {
	comp *configuration.Component
	stop chan struct{} // closed when the subscription ends
}

// newConfigSubscriptions is called by New.
func newConfigSubscriptions() *configSubscriptions {
	return &configSubscriptions{subs: map[string]*configSub{}}
}

func (c *Core) configRegistry() *configSubscriptions { return c.configSubs }

// SetConfigUpdater sets how HTTP subscriptions reach the app; without one
// they fail with ERR_APP_CHANNEL_NIL.
func (c *Core) SetConfigUpdater(u ConfigUpdater) {
	r := c.configRegistry()
	r.mu.Lock()
	r.updater = u
	r.mu.Unlock()
}

func (r *configSubscriptions) add(id string, comp *configuration.Component) *configSub {
	sub := &configSub{comp: comp, stop: make(chan struct{})}
	r.mu.Lock()
	r.subs[id] = sub
	r.mu.Unlock()
	return sub
}

// configStore looks up a configuration store, with Dapr's two lookup errors.
func (c *Core) configStore(name string) (*configuration.Component, error) {
	configs := c.comps().configs
	if len(configs) == 0 {
		return nil, apierr.ConfigurationNotConfigured()
	}
	comp, ok := configs[name]
	if !ok {
		return nil, apierr.ConfigurationNotFound(name)
	}
	return comp, nil
}

// GetConfiguration reads items (all of them when no keys are given).
func (c *Core) GetConfiguration(ctx context.Context, req *runtimev1.GetConfigurationRequest) (*runtimev1.GetConfigurationResponse, error) {
	comp, err := c.configStore(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	var items map[string]*configuration.Item
	err = c.measured(comp.Name, resiliency.Configuration, metrics.OpGet).Run(ctx, func(ctx context.Context) (err error) {
		items, err = comp.Store.Get(ctx, req.GetKeys(), req.GetMetadata())
		return err
	})
	if err != nil {
		return nil, apierr.ConfigurationGet(req.GetKeys(), comp.Name, err)
	}
	return &runtimev1.GetConfigurationResponse{Items: configItemsToProto(items)}, nil
}

// SubscribeConfiguration serves a gRPC subscription: send first gets the
// subscription id, then every update, until ctx ends or
// UnsubscribeConfiguration stops it (then it returns nil, ending the
// stream normally).
func (c *Core) SubscribeConfiguration(ctx context.Context, req *runtimev1.SubscribeConfigurationRequest, send func(*runtimev1.SubscribeConfigurationResponse) error) error {
	comp, err := c.configStore(req.GetStoreName())
	if err != nil {
		return err
	}
	out := &configStream{send: send, ready: make(chan struct{}), ended: make(chan struct{})}
	id, err := c.subscribeStore(ctx, comp, req, out.deliver)
	if err != nil {
		return apierr.ConfigurationSubscribe(req.GetKeys(), comp.Name, err)
	}
	sub := c.configRegistry().add(id, comp)
	defer func() {
		out.end()
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsubscribeTimeout)
		defer cancel()
		_ = c.endConfigSub(stopCtx, "", id) // already gone after UnsubscribeConfiguration
	}()
	if err := out.start(id); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-sub.stop:
	}
	return nil
}

// configStream serialises the sends of one gRPC subscription and holds
// updates back until the id has gone out, so the id is always first.
type configStream struct {
	send  func(*runtimev1.SubscribeConfigurationResponse) error
	ready chan struct{} // closed once the id is sent
	ended chan struct{} // closed when the stream handler returns

	mu   sync.Mutex
	done bool
}

func (s *configStream) start(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.send(&runtimev1.SubscribeConfigurationResponse{Id: id})
	close(s.ready)
	return err
}

// end stops further sends; gRPC forbids sending after the handler returns.
func (s *configStream) end() {
	close(s.ended)
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
}

func (s *configStream) deliver(ctx context.Context, id string, items map[string]*configuration.Item) error {
	select {
	case <-s.ready:
	case <-s.ended:
		return errors.New("subscription stream has ended")
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errors.New("subscription stream has ended")
	}
	return s.send(&runtimev1.SubscribeConfigurationResponse{Id: id, Items: configItemsToProto(items)})
}

// SubscribeConfigurationApp serves an HTTP subscription: updates are
// posted to the app through the ConfigUpdater until
// UnsubscribeConfiguration. It returns the subscription id.
func (c *Core) SubscribeConfigurationApp(ctx context.Context, req *runtimev1.SubscribeConfigurationRequest) (*runtimev1.SubscribeConfigurationResponse, error) {
	r := c.configRegistry()
	r.mu.Lock()
	u := r.updater
	r.mu.Unlock()
	if u == nil {
		return nil, apierr.AppChannelNil()
	}
	comp, err := c.configStore(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	store := comp.Name
	id, err := c.subscribeStore(ctx, comp, req, func(ctx context.Context, id string, items map[string]*configuration.Item) error {
		// Looked up per update, so a reloaded policy applies at once.
		pol := c.resiliency.ComponentInbound(store, resiliency.Configuration)
		return u.UpdateConfiguration(ctx, store, &runtimev1.SubscribeConfigurationResponse{Id: id, Items: configItemsToProto(items)}, pol)
	})
	if err != nil {
		return nil, apierr.ConfigurationSubscribe(req.GetKeys(), comp.Name, err)
	}
	r.add(id, comp)
	return &runtimev1.SubscribeConfigurationResponse{Id: id}, nil
}

// subscribeStore starts a subscription in the store under the store's
// outbound resiliency policy, as daprd does. The policy covers starting it
// only: the store runs the subscription on a context of its own.
func (c *Core) subscribeStore(ctx context.Context, comp *configuration.Component, req *runtimev1.SubscribeConfigurationRequest, handler configuration.UpdateHandler) (string, error) {
	var id string
	err := c.measured(comp.Name, resiliency.Configuration, metrics.OpSubscribe).Run(ctx, func(ctx context.Context) (err error) {
		id, err = comp.Store.Subscribe(ctx, req.GetKeys(), req.GetMetadata(), handler)
		return err
	})
	return id, err
}

// UnsubscribeConfiguration stops a subscription of either transport. On
// failure the response carries ok=false and the message, and the error is
// ERR_CONFIGURATION_UNSUBSCRIBE.
func (c *Core) UnsubscribeConfiguration(ctx context.Context, req *runtimev1.UnsubscribeConfigurationRequest) (*runtimev1.UnsubscribeConfigurationResponse, error) {
	comp, err := c.configStore(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	if err := c.endConfigSub(ctx, comp.Name, req.GetId()); err != nil {
		e := apierr.ConfigurationUnsubscribe(req.GetId(), err)
		return &runtimev1.UnsubscribeConfigurationResponse{Ok: false, Message: e.Message}, e
	}
	return &runtimev1.UnsubscribeConfigurationResponse{Ok: true}, nil
}

// endConfigSub forgets a subscription, ends its stream if it has one, and
// stops it in the store. store, when set, must be the subscription's.
func (c *Core) endConfigSub(ctx context.Context, store, id string) error {
	r := c.configRegistry()
	r.mu.Lock()
	sub, ok := r.subs[id]
	if ok && store != "" && sub.comp.Name != store {
		ok = false
	}
	if ok {
		delete(r.subs, id)
	}
	r.mu.Unlock()
	if !ok {
		return errNoSubscription
	}
	close(sub.stop)
	return c.measured(sub.comp.Name, resiliency.Configuration, metrics.OpUnsubscribe).Run(ctx, func(ctx context.Context) error {
		return sub.comp.Store.Unsubscribe(ctx, id)
	})
}

func configItemsToProto(items map[string]*configuration.Item) map[string]*commonv1.ConfigurationItem {
	if len(items) == 0 {
		return nil
	}
	out := make(map[string]*commonv1.ConfigurationItem, len(items))
	for k, it := range items {
		if it == nil {
			continue
		}
		out[k] = &commonv1.ConfigurationItem{Value: it.Value, Version: it.Version, Metadata: it.Metadata}
	}
	return out
}
