package delivery

import (
	"slices"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/proto"

	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/resources"
)

// component returns the loaded pub/sub with that name, or nil.
func (e *Engine) component(name string) *pubsub.Component {
	e.compMu.RLock()
	defer e.compMu.RUnlock()
	return e.cfg.PubSubs[name]
}

// components returns the loaded pub/subs (the map is never mutated).
func (e *Engine) components() map[string]*pubsub.Component {
	e.compMu.RLock()
	defer e.compMu.RUnlock()
	return e.cfg.PubSubs
}

// Reload applies a hot reload. pubsubs are now the loaded pub/sub
// components; restarted names those whose instance was replaced (their
// subscriptions move to the new broker); declarative are the Subscription
// resources now loaded. Only the subscriptions that changed restart; the
// app's programmatic list is not asked for again. Streaming subscriptions
// stay on the broker they opened on.
func (e *Engine) Reload(pubsubs map[string]*pubsub.Component, restarted []string, declarative []resources.Subscription) {
	e.compMu.Lock()
	e.cfg.PubSubs = pubsubs
	e.compMu.Unlock()

	e.mu.Lock()
	e.cfg.Declarative = declarative
	if !e.started || e.stopped || e.cfg.Channel == nil {
		e.mu.Unlock()
		return
	}
	e.subs = e.reconcile(restarted)
	e.mu.Unlock()
	e.resume() // subscribes what reconcile left inactive
}

// reconcile computes the new subscription list, keeping running the
// subscriptions that are unchanged and whose pub/sub was not replaced, and
// cancelling the others; e.mu is held.
func (e *Engine) reconcile(restarted []string) []*subscription {
	var prog []*subscription
	for _, s := range e.subs {
		if s.kind == runtimev1.PubsubSubscriptionType_PROGRAMMATIC {
			prog = append(prog, s)
		}
	}
	next := e.usable(e.merge(e.declarative(), prog))
	kept := make(map[*subscription]bool, len(next))
	for i, n := range next {
		if old := e.sameAs(n); old != nil && !slices.Contains(restarted, old.pubsub) {
			next[i] = old
			kept[old] = true
		}
	}
	for _, old := range e.subs {
		if kept[old] {
			continue
		}
		if cancel, ok := e.active[old]; ok {
			cancel()
			delete(e.active, old)
			e.log.Info("subscription stopped for reload", "pubsub", old.pubsub, "topic", old.topic)
		}
		// A replaced bulk subscription's batcher idles until Stop.
		delete(e.batchers, old)
	}
	for _, n := range next {
		if n.bulk.enabled && e.batchers[n] == nil {
			e.startBatcher(n)
		}
	}
	return next
}

// sameAs finds the current subscription equal to n (same kind, pub/sub,
// topic, routes and options); e.mu is held.
func (e *Engine) sameAs(n *subscription) *subscription {
	want := n.proto()
	for _, s := range e.subs {
		if s.kind == n.kind && s.raw == n.raw && s.bulk == n.bulk && proto.Equal(s.proto(), want) {
			return s
		}
	}
	return nil
}
