// Package outbox implements Dapr's transactional outbox: a state
// transaction on a store whose metadata sets outboxPublishPubsub and
// outboxPublishTopic also publishes each committed upsert to that topic,
// at least once, and only if the transaction commits.
//
// How: before the commit, Begin publishes one internal message (the
// transaction's CloudEvents and a unique marker key) to an internal topic,
// and adds an upsert of the marker key to the transaction. The sidecar
// subscribes to the internal topic itself (consumer group = app id). For
// each message it waits for the marker to exist in the store, publishes the
// events to the user topic and deletes the marker. A message whose marker
// never appears belonged to a transaction that did not commit and is
// dropped. Since the internal message is in the broker before the commit,
// a crash after the commit loses nothing: whichever sidecar of the app
// receives the message publishes the events.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/state"
)

// defaultMarkerWait is how long a message whose transaction this sidecar
// does not know waits for the marker before it is dropped: the transaction
// may still be committing on another sidecar of the app.
const defaultMarkerWait = 15 * time.Second

// Config builds an Outbox.
type Config struct {
	AppID     string
	Namespace string
	// Stores are the outbox settings of the stores that enable it.
	Stores []StoreConfig
	// StateStores and PubSubs are the loaded components.
	StateStores []*state.Component
	PubSubs     []*pubsub.Component
	Logger      *slog.Logger
	// Resiliency supplies the pub/subs' outbound policies, which cover
	// both publishes (internal and user topic) as in daprd; nil applies
	// none.
	Resiliency *resiliency.Provider
	// MarkerWait overrides defaultMarkerWait (tests).
	MarkerWait time.Duration
}

// Outbox serves the outbox of every store that enables it.
type Outbox struct {
	appID      string
	log        *slog.Logger
	res        *resiliency.Provider
	markerWait time.Duration
	stores     map[string]*storeOutbox
	routes     []*route
	pending    *pending
	// relayed and dropped count handled messages: published, or dropped
	// because their transaction did not commit.
	relayed, dropped atomic.Int64

	mu       sync.Mutex
	stopSubs func()         // cancels the internal subscriptions
	inflight sync.WaitGroup // handlers running
	stopped  bool
}

// storeOutbox is one store's outbox with its resolved components.
type storeOutbox struct {
	cfg      StoreConfig
	store    *state.Component
	publish  *pubsub.Component // user topic
	internal *route
}

// route is one internal subscription. Stores whose internal pub/sub and
// topic coincide share it; messages name their store.
type route struct {
	pubsub *pubsub.Component
	topic  string
}

// New resolves every store's components. A store without transactions, or
// a pub/sub that is not loaded, is an error naming the component.
func New(cfg Config) (*Outbox, error) {
	o := &Outbox{appID: cfg.AppID, log: cfg.Logger, res: cfg.Resiliency, markerWait: cfg.MarkerWait, stores: map[string]*storeOutbox{}, pending: newPending()}
	if o.log == nil {
		o.log = slog.Default()
	}
	o.log = o.log.With("component", "outbox")
	if o.markerWait <= 0 {
		o.markerWait = defaultMarkerWait
	}
	stores := make(map[string]*state.Component, len(cfg.StateStores))
	for _, s := range cfg.StateStores {
		stores[s.Name] = s
	}
	pubsubs := make(map[string]*pubsub.Component, len(cfg.PubSubs))
	for _, p := range cfg.PubSubs {
		pubsubs[p.Name] = p
	}
	routes := map[[2]string]*route{}
	var errs []error
	for _, sc := range cfg.Stores {
		so, err := resolve(sc, stores, pubsubs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := [2]string{sc.InternalPubSub, sc.internalTopic(cfg.AppID, cfg.Namespace)}
		if routes[key] == nil {
			routes[key] = &route{pubsub: pubsubs[key[0]], topic: key[1]}
			o.routes = append(o.routes, routes[key])
		}
		so.internal = routes[key]
		o.stores[sc.Store] = so
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return o, nil
}

func resolve(sc StoreConfig, stores map[string]*state.Component, pubsubs map[string]*pubsub.Component) (*storeOutbox, error) {
	s := stores[sc.Store]
	if s == nil {
		return nil, fmt.Errorf("outbox of state store %q: the store is not loaded", sc.Store)
	}
	if _, ok := s.Store.(state.Transactional); !ok || !s.Has(state.FeatureTransactional) {
		return nil, fmt.Errorf("outbox of state store %q: %s does not support transactions (TRANSACTIONAL), which the outbox needs", sc.Store, s.Type)
	}
	publish := pubsubs[sc.PublishPubSub]
	if publish == nil {
		return nil, fmt.Errorf("outbox of state store %q: %s names pub/sub %q, which is not loaded", sc.Store, MetaPublishPubSub, sc.PublishPubSub)
	}
	if pubsubs[sc.InternalPubSub] == nil {
		return nil, fmt.Errorf("outbox of state store %q: %s names pub/sub %q, which is not loaded", sc.Store, MetaPubSub, sc.InternalPubSub)
	}
	return &storeOutbox{cfg: sc, store: s, publish: publish}, nil
}

// publish sends one message under the pub/sub's outbound resiliency
// policy. daprd publishes both the internal message and the relayed events
// through its publisher, which applies that policy; the marker reads and
// deletes stay outside any policy, as there.
func (o *Outbox) publish(ctx context.Context, ps *pubsub.Component, req *pubsub.PublishRequest) error {
	return o.res.ComponentOutbound(ps.Name, resiliency.Pubsub).Run(ctx, func(ctx context.Context) error {
		return ps.Publish(ctx, req)
	})
}

// Enabled reports whether the store has an outbox. It is safe on a nil
// Outbox (no store has one).
func (o *Outbox) Enabled(store string) bool {
	if o == nil {
		return false
	}
	_, ok := o.stores[store]
	return ok
}
