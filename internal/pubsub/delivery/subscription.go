package delivery

import (
	"fmt"
	"strings"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/google/cel-go/cel"

	"github.com/outrigger/outrigger/internal/resources"
)

// subscription is one effective subscription.
type subscription struct {
	kind       runtimev1.PubsubSubscriptionType
	pubsub     string
	topic      string
	rules      []rule // match rules in order, then the default (no match)
	deadLetter string
	metadata   map[string]string
	bulk       bulkConfig
	raw        bool // metadata rawPayload: messages are not CloudEvents
}

// rule is one route; a nil prg always matches.
type rule struct {
	match string
	path  string
	prg   cel.Program
}

type bulkConfig struct {
	enabled  bool
	maxCount int
	maxAwait time.Duration
}

// Defaults of daprd's bulk subscriber for brokers without native bulk.
const (
	defaultBulkCount = 100
	defaultBulkAwait = time.Second
)

// newSubscription builds a subscription from a v2 spec, compiling its CEL
// rules. A spec without any route is refused unless emptyRoute allows a
// single catch-all rule with an empty path (gRPC apps).
func newSubscription(env *cel.Env, kind runtimev1.PubsubSubscriptionType, spec resources.SubscriptionSpec, emptyRoute bool) (*subscription, error) {
	if spec.PubsubName == "" || spec.Topic == "" {
		return nil, fmt.Errorf("subscription needs a pubsubname and a topic")
	}
	s := &subscription{
		kind:       kind,
		pubsub:     spec.PubsubName,
		topic:      spec.Topic,
		deadLetter: spec.DeadLetterTopic,
		metadata:   spec.Metadata,
		bulk:       bulkFrom(spec.BulkSubscribe),
		raw:        truthy(spec.Metadata["rawPayload"]),
	}
	for _, r := range spec.Routes.Rules {
		prg, err := compileMatch(env, r.Match)
		if err != nil {
			return nil, fmt.Errorf("topic %s on pubsub %s: %w", spec.Topic, spec.PubsubName, err)
		}
		s.rules = append(s.rules, rule{match: r.Match, path: r.Path, prg: prg})
	}
	if spec.Routes.Default != "" {
		s.rules = append(s.rules, rule{path: spec.Routes.Default})
	}
	if len(s.rules) == 0 {
		if !emptyRoute {
			return nil, fmt.Errorf("topic %s on pubsub %s has no route", spec.Topic, spec.PubsubName)
		}
		s.rules = []rule{{}}
	}
	return s, nil
}

func bulkFrom(b resources.BulkSubscribe) bulkConfig {
	c := bulkConfig{enabled: b.Enabled, maxCount: int(b.MaxMessagesCount), maxAwait: time.Duration(b.MaxAwaitDurationMs) * time.Millisecond}
	if c.maxCount <= 0 {
		c.maxCount = defaultBulkCount
	}
	if c.maxAwait <= 0 {
		c.maxAwait = defaultBulkAwait
	}
	return c
}

// route returns the path of the first matching rule; ok is false when no
// rule matches.
func (s *subscription) route(ev *event) (path string, ok bool, err error) {
	var vars map[string]any
	for _, r := range s.rules {
		if r.prg == nil {
			return r.path, true, nil
		}
		if vars == nil {
			vars = map[string]any{"event": ev.celView()}
		}
		matched, err := evalMatch(r.prg, vars)
		if err != nil {
			return "", false, fmt.Errorf("evaluating match %q: %w", r.match, err)
		}
		if matched {
			return r.path, true, nil
		}
	}
	return "", false, nil
}

// proto renders the subscription for the metadata API; the default route
// is a rule without a match.
func (s *subscription) proto() *runtimev1.PubsubSubscription {
	out := &runtimev1.PubsubSubscription{
		PubsubName:      s.pubsub,
		Topic:           s.topic,
		Metadata:        s.metadata,
		DeadLetterTopic: s.deadLetter,
		Type:            s.kind,
	}
	var rules []*runtimev1.PubsubSubscriptionRule
	for _, r := range s.rules {
		if r.match != "" || r.path != "" { // streams and route-less gRPC subscriptions have none
			rules = append(rules, &runtimev1.PubsubSubscriptionRule{Match: r.match, Path: r.path})
		}
	}
	if len(rules) > 0 {
		out.Rules = &runtimev1.PubsubSubscriptionRules{Rules: rules}
	}
	return out
}

// truthy reads a boolean metadata value the way daprd does.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "y", "yes", "on":
		return true
	}
	return false
}
