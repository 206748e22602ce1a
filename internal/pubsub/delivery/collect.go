package delivery

import (
	"context"
	"slices"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

// collect gathers the app's effective subscriptions: declarative resources
// and the app's own list, one per pubsub+topic, limited to loaded pub/subs
// and to topics this app may subscribe to.
func (e *Engine) collect(ctx context.Context) []*subscription {
	return e.usable(e.merge(e.declarative(), e.programmatic(ctx)))
}

// usable keeps the subscriptions to loaded pub/subs and allowed topics.
func (e *Engine) usable(merged []*subscription) []*subscription {
	out := make([]*subscription, 0, len(merged))
	for _, s := range merged {
		comp := e.component(s.pubsub)
		if comp == nil {
			e.log.Warn("subscription to an unknown pub/sub ignored", "pubsub", s.pubsub, "topic", s.topic)
			continue
		}
		if !comp.Scopes.CanSubscribe(s.topic) {
			e.log.Warn("subscription refused: topic not allowed for this app", "pubsub", s.pubsub, "topic", s.topic, "app", e.cfg.AppID)
			continue
		}
		out = append(out, s)
	}
	return out
}

// declarative builds the Subscription resources scoped to this app.
func (e *Engine) declarative() []*subscription {
	var out []*subscription
	for _, r := range e.cfg.Declarative {
		if len(r.Scopes) > 0 && !slices.Contains(r.Scopes, e.cfg.AppID) {
			continue
		}
		s, err := newSubscription(e.env, runtimev1.PubsubSubscriptionType_DECLARATIVE, r.Spec, false)
		if err != nil {
			e.log.Error("ignoring declarative subscription", "name", r.Metadata.Name, "error", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// merge applies daprd's precedence for the same pubsub+topic: the first
// declarative subscription wins over later ones, and a programmatic one
// replaces it.
func (e *Engine) merge(decl, prog []*subscription) []*subscription {
	var out []*subscription
	at := make(map[string]int)
	key := func(s *subscription) string { return s.pubsub + "||" + s.topic }
	for _, s := range decl {
		if _, dup := at[key(s)]; dup {
			e.log.Warn("duplicate declarative subscription ignored", "pubsub", s.pubsub, "topic", s.topic)
			continue
		}
		at[key(s)] = len(out)
		out = append(out, s)
	}
	for _, s := range prog {
		i, dup := at[key(s)]
		switch {
		case !dup:
			at[key(s)] = len(out)
			out = append(out, s)
		case out[i].kind == runtimev1.PubsubSubscriptionType_DECLARATIVE:
			e.log.Info("programmatic subscription replaces the declarative one", "pubsub", s.pubsub, "topic", s.topic)
			out[i] = s
		default:
			e.log.Warn("duplicate programmatic subscription ignored", "pubsub", s.pubsub, "topic", s.topic)
		}
	}
	return out
}
