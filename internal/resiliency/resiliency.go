// Package resiliency applies Dapr's Resiliency resources: named timeouts,
// retries and circuit breakers, bound to targets (apps for service
// invocation, actor types, components inbound and outbound), with Dapr's
// Default…Policy names and built-in retries when no target matches.
//
// A building block asks the Provider for the Policy of its target and runs
// its call through it:
//
//	pol := provider.ComponentOutbound(store.Name, resiliency.Statestore)
//	err := pol.Run(ctx, func(ctx context.Context) error { return store.Set(ctx, req) })
//
// A nil Provider and the zero Policy are valid and cost nothing: Run then
// just calls the function.
package resiliency

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/outrigger/outrigger/internal/resources"
)

// ComponentKind is a component's building block, named as in Dapr's
// Default<Kind>Component…Policy names.
type ComponentKind string

// The component kinds.
const (
	Statestore    ComponentKind = "Statestore"
	Pubsub        ComponentKind = "Pubsub"
	Binding       ComponentKind = "Binding"
	Secretstore   ComponentKind = "Secretstore"
	Configuration ComponentKind = "Configuration"
	Lock          ComponentKind = "Lock"
	Crypto        ComponentKind = "Crypto"
	Conversation  ComponentKind = "Conversation"
)

var componentKinds = []ComponentKind{Statestore, Pubsub, Binding, Secretstore, Configuration, Lock, Crypto, Conversation}

// Breaker cache bounds (Dapr's defaults for circuitBreakerCacheSize).
const (
	defaultEndpointCacheSize  = 100
	defaultActorCacheSize     = 5000
	defaultComponentCacheSize = 1000
)

// Options configure a Provider.
type Options struct {
	Logger   *slog.Logger
	Observer Observer
	// Permanent, when set, marks errors no retry can fix (a stale ETag,
	// for instance); such errors are returned at once.
	Permanent func(error) bool
}

// Provider holds the merged policies of every loaded Resiliency resource
// and the live circuit breakers. It is safe for concurrent use; a nil
// *Provider applies no policies (built-in retries still apply).
type Provider struct {
	env      *runEnv
	builtIns map[string]*retrySpec // overridden built-in retries

	apps       map[string]Policy // named app targets, breaker included
	components map[compKey]Policy
	compNamed  map[string]bool // component names with a target (defaults never apply to them)
	actors     map[string]*actorPolicies

	defaultApp   template
	defaultActor template
	defaultComp  map[compKindDir]template
	anyCompDef   bool // some default component policy exists

	appBreakers   *breakerSet[string]  // default app policy: one breaker per app id
	actorBreakers *breakerSet[string]  // default actor policy: one breaker per actor type
	compBreakers  *breakerSet[compKey] // default component policies

	// replacement, once set by Replace, serves every lookup instead: users
	// keep one *Provider while a hot reload swaps the policies behind it.
	replacement atomic.Pointer[Provider]
}

// Replace makes next answer every later lookup on p (hot reload). Policies
// already handed out keep running; new calls get next's policies and
// breakers.
func (p *Provider) Replace(next *Provider) {
	p.replacement.Store(next)
}

// live returns the provider that currently answers for p.
func (p *Provider) live() *Provider {
	if p == nil {
		return nil
	}
	if n := p.replacement.Load(); n != nil {
		return n.live()
	}
	return p
}

// template is a resolved set of policies before a breaker is attached.
type template struct {
	timeout time.Duration
	retry   *retrySpec
	breaker *breakerSpec
}

func (t template) isZero() bool { return t.timeout <= 0 && t.retry == nil && t.breaker == nil }

type compKey struct {
	name string
	dir  Direction
}

type compKindDir struct {
	kind ComponentKind
	dir  Direction
}

// actorPolicies are the policies of one actor type: retry and breaker
// apply before the actor lock, the timeout after it.
type actorPolicies struct {
	pre, post Policy
	spec      *breakerSpec
	byID      bool // breaker per actor id (scope id or both)
	breakers  *breakerSet[string]
}

// New merges the Resiliency resources in order (a later policy or target
// with the same name replaces an earlier one). A resource with an invalid
// policy is skipped whole, with an error in the log.
func New(list []resources.Resiliency, opts Options) (*Provider, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	env, err := newTripEnv()
	if err != nil {
		return nil, fmt.Errorf("resiliency: trip expression environment: %w", err)
	}
	m := newMerged()
	for i := range list {
		r := &list[i]
		if err := m.add(env, r); err != nil {
			log.Error("could not read resiliency policy: skipping it", "resiliency", r.Name(), "error", err)
			continue
		}
		log.Info("loaded resiliency configuration", "resiliency", r.Name())
		if opts.Observer != nil {
			opts.Observer.PolicyLoaded(r.Name())
		}
	}
	p := &Provider{
		env:           &runEnv{log: log, obs: opts.Observer, permanent: opts.Permanent},
		builtIns:      map[string]*retrySpec{},
		apps:          map[string]Policy{},
		components:    map[compKey]Policy{},
		compNamed:     map[string]bool{},
		actors:        map[string]*actorPolicies{},
		defaultComp:   map[compKindDir]template{},
		appBreakers:   newBreakerSet[string](defaultEndpointCacheSize),
		actorBreakers: newBreakerSet[string](defaultActorCacheSize),
		compBreakers:  newBreakerSet[compKey](defaultComponentCacheSize),
	}
	p.resolve(m)
	return p, nil
}

// merged are the policies and targets of all resources, by name.
type merged struct {
	timeouts   map[string]time.Duration
	retries    map[string]*retrySpec
	breakers   map[string]*breakerSpec
	apps       map[string]resources.EndpointPolicyNames
	actors     map[string]resources.ActorPolicyNames
	components map[string]resources.ComponentPolicyNames
}

func newMerged() *merged {
	return &merged{
		timeouts: map[string]time.Duration{}, retries: map[string]*retrySpec{}, breakers: map[string]*breakerSpec{},
		apps: map[string]resources.EndpointPolicyNames{}, actors: map[string]resources.ActorPolicyNames{},
		components: map[string]resources.ComponentPolicyNames{},
	}
}

// add parses one resource completely, then merges it, so a bad resource
// leaves nothing behind.
func (m *merged) add(env *cel.Env, r *resources.Resiliency) error {
	pol := r.Spec.Policies
	timeouts := map[string]time.Duration{}
	for name, d := range pol.Timeouts {
		v, err := d.Parse()
		if err != nil {
			return fmt.Errorf("timeout %s: %w", name, err)
		}
		timeouts[name] = v
	}
	retries := map[string]*retrySpec{}
	for name, rp := range pol.Retries {
		s, err := newRetrySpec(name, rp)
		if err != nil {
			return fmt.Errorf("retry %s: %w", name, err)
		}
		retries[name] = s
	}
	breakers := map[string]*breakerSpec{}
	for name, cb := range pol.CircuitBreakers {
		s, err := newBreakerSpec(env, name, cb)
		if err != nil {
			return fmt.Errorf("circuit breaker %s: %w", name, err)
		}
		breakers[name] = s
	}
	for name, a := range r.Spec.Targets.Actors {
		if a.CircuitBreaker != "" && !slices.Contains([]string{"type", "id", "both"}, a.CircuitBreakerScope) {
			return fmt.Errorf("actor %s: circuitBreakerScope %q is not valid (want type, id or both)", name, a.CircuitBreakerScope)
		}
	}
	maps.Copy(m.timeouts, timeouts)
	maps.Copy(m.retries, retries)
	maps.Copy(m.breakers, breakers)
	maps.Copy(m.apps, r.Spec.Targets.Apps)
	maps.Copy(m.actors, r.Spec.Targets.Actors)
	maps.Copy(m.components, r.Spec.Targets.Components)
	return nil
}

// resolve turns names into policies: targets, defaults and built-ins.
func (p *Provider) resolve(m *merged) {
	for name, s := range m.retries {
		if !isBuiltIn(name) {
			continue
		}
		if isProtected(name) {
			p.env.log.Warn("built-in retry policy cannot be overridden: ignoring it", "policy", name)
			continue
		}
		if s.maxRetries >= 0 && s.maxRetries < minBuiltInRetries {
			// Dapr never lets an override retry less than the built-in.
			p.env.log.Warn("override of a built-in retry policy retries fewer than 3 times: using 3", "policy", name)
			c := *s
			c.maxRetries = minBuiltInRetries
			s = &c
		}
		p.builtIns[name] = s
	}
	lookup := func(kind, target, timeout, retry, breaker string) template {
		return m.named(p.env.log, kind+" "+target, timeout, retry, breaker)
	}
	for app, names := range m.apps {
		t := lookup("app", app, names.Timeout, names.Retry, names.CircuitBreaker)
		p.apps[app] = p.policy(t, Target{Type: TargetApp, Name: app}, nil)
	}
	for name, c := range m.components {
		p.compNamed[name] = true
		for dir, names := range map[Direction]resources.PolicyNames{Outbound: c.Outbound, Inbound: c.Inbound} {
			t := lookup("component", name+" "+string(dir), names.Timeout, names.Retry, names.CircuitBreaker)
			p.components[compKey{name, dir}] = p.policy(t, Target{Type: TargetComponent, Name: name, Direction: dir}, nil)
		}
	}
	for typ, names := range m.actors {
		t := lookup("actor", typ, names.Timeout, names.Retry, names.CircuitBreaker)
		p.actors[typ] = p.newActorPolicies(typ, t, names)
	}
	p.defaultApp = m.defaults("App")
	p.defaultActor = m.defaults("Actor")
	for _, kind := range componentKinds {
		for _, dir := range []Direction{Outbound, Inbound} {
			t := m.defaults(componentLevels(kind, dir)...)
			p.defaultComp[compKindDir{kind, dir}] = t
			p.anyCompDef = p.anyCompDef || !t.isZero()
		}
	}
}

// named resolves the policy names of one target; unknown names are
// ignored, as in Dapr, with a warning.
func (m *merged) named(log *slog.Logger, target, timeout, retry, breaker string) template {
	var t template
	var ok bool
	if timeout != "" {
		if t.timeout, ok = m.timeouts[timeout]; !ok {
			log.Warn("resiliency target refers to an unknown timeout policy", "target", target, "policy", timeout)
		}
	}
	if retry != "" {
		if t.retry, ok = m.retries[retry]; !ok {
			log.Warn("resiliency target refers to an unknown retry policy", "target", target, "policy", retry)
		}
	}
	if breaker != "" {
		if t.breaker, ok = m.breakers[breaker]; !ok {
			log.Warn("resiliency target refers to an unknown circuit breaker policy", "target", target, "policy", breaker)
		}
	}
	return t
}

// defaults resolves Default<level>{Timeout,Retry,CircuitBreaker}Policy,
// most specific level first, then the unqualified Default…Policy. Each
// kind is resolved on its own.
func (m *merged) defaults(levels ...string) template {
	levels = append(levels, "")
	var t template
	for _, l := range levels {
		if d, ok := m.timeouts["Default"+l+"TimeoutPolicy"]; ok {
			t.timeout = d
			break
		}
	}
	for _, l := range levels {
		if r, ok := m.retries["Default"+l+"RetryPolicy"]; ok {
			t.retry = r
			break
		}
	}
	for _, l := range levels {
		if b, ok := m.breakers["Default"+l+"CircuitBreakerPolicy"]; ok {
			t.breaker = b
			break
		}
	}
	return t
}

// componentLevels are the default-policy levels of a component, most
// specific first: StatestoreComponentOutbound, ComponentOutbound, Component.
func componentLevels(kind ComponentKind, dir Direction) []string {
	d := "Outbound"
	if dir == Inbound {
		d = "Inbound"
	}
	return []string{string(kind) + "Component" + d, "Component" + d, "Component"}
}

// policy builds a Policy from a template; b is its breaker, made from the
// template when nil.
func (p *Provider) policy(t template, target Target, b *breaker) Policy {
	if t.isZero() {
		return Policy{}
	}
	if b == nil && t.breaker != nil {
		b = t.breaker.newBreaker(target, p.env.log, p.env.obs)
	}
	return Policy{target: target, timeout: t.timeout, retry: t.retry, breaker: b, env: p.env}
}

func (p *Provider) newActorPolicies(typ string, t template, names resources.ActorPolicyNames) *actorPolicies {
	target := Target{Type: TargetActor, Name: typ}
	a := &actorPolicies{
		pre:  p.policy(template{retry: t.retry}, target, nil),
		post: p.policy(template{timeout: t.timeout}, target, nil),
		spec: t.breaker,
	}
	if t.breaker == nil {
		return a
	}
	// Dapr treats "both" like "id" (a breaker per actor id).
	if names.CircuitBreakerScope == "type" {
		a.pre = p.policy(template{retry: t.retry, breaker: t.breaker}, target, nil)
		return a
	}
	a.byID = true
	size := names.CircuitBreakerCacheSize
	if size <= 0 {
		size = defaultActorCacheSize
	}
	a.breakers = newBreakerSet[string](size)
	return a
}

// HasAppTarget reports whether apps.<appID> is a target; such an app's
// named policies replace the built-in service invocation retries.
func (p *Provider) HasAppTarget(appID string) bool {
	p = p.live()
	if p == nil {
		return false
	}
	_, ok := p.apps[appID]
	return ok
}

// EndpointPolicy is the policy for service invocation of appID (an app id
// or an HTTPEndpoint name): its named target, else the default app
// policies. Its circuit breaker is per app id.
func (p *Provider) EndpointPolicy(appID string) Policy {
	p = p.live()
	if p == nil {
		return Policy{}
	}
	if pol, ok := p.apps[appID]; ok {
		return pol
	}
	t := p.defaultApp
	if t.isZero() {
		return Policy{}
	}
	target := Target{Type: TargetApp, Name: appID}
	var b *breaker
	if t.breaker != nil {
		b = p.appBreakers.get(appID, func() *breaker { return t.breaker.newBreaker(target, p.env.log, p.env.obs) })
	}
	return p.policy(t, target, b)
}

// ComponentOutbound is the policy for the sidecar's calls to a component
// (state, publish, output bindings, secrets, configuration, locks).
func (p *Provider) ComponentOutbound(name string, kind ComponentKind) Policy {
	p = p.live()
	return p.component(name, kind, Outbound)
}

// ComponentInbound is the policy for delivering a component's events to
// the app (pub/sub messages, input binding events, configuration updates).
func (p *Provider) ComponentInbound(name string, kind ComponentKind) Policy {
	p = p.live()
	return p.component(name, kind, Inbound)
}

func (p *Provider) component(name string, kind ComponentKind, dir Direction) Policy {
	if p == nil || (!p.anyCompDef && len(p.compNamed) == 0) {
		return Policy{}
	}
	key := compKey{name, dir}
	if p.compNamed[name] {
		pol := p.components[key]
		pol.target.ComponentKind = kind
		return pol
	}
	if !p.anyCompDef {
		return Policy{}
	}
	t, ok := p.defaultComp[compKindDir{kind, dir}]
	if !ok || t.isZero() {
		return Policy{}
	}
	target := Target{Type: TargetComponent, Name: name, ComponentKind: kind, Direction: dir}
	var b *breaker
	if t.breaker != nil {
		b = p.compBreakers.get(key, func() *breaker { return t.breaker.newBreaker(target, p.env.log, p.env.obs) })
	}
	return p.policy(t, target, b)
}

// ActorPreLockPolicy is the policy applied before an actor's lock is taken:
// retry and circuit breaker (per type, or per actor id by its scope).
func (p *Provider) ActorPreLockPolicy(actorType, actorID string) Policy {
	p = p.live()
	if p == nil {
		return Policy{}
	}
	a, ok := p.actors[actorType]
	if !ok {
		return p.defaultActorPolicy(actorType, template{retry: p.defaultActor.retry, breaker: p.defaultActor.breaker})
	}
	if !a.byID {
		return a.pre
	}
	target := Target{Type: TargetActor, Name: actorType}
	b := a.breakers.get(actorID, func() *breaker {
		return a.spec.newBreaker(Target{Type: TargetActor, Name: actorType + "/" + actorID}, p.env.log, p.env.obs)
	})
	pol := a.pre // the retry, if any
	pol.target, pol.breaker, pol.env = target, b, p.env
	return pol
}

// ActorPostLockPolicy is the policy applied once an actor's lock is held:
// the timeout.
func (p *Provider) ActorPostLockPolicy(actorType, _ string) Policy {
	p = p.live()
	if p == nil {
		return Policy{}
	}
	if a, ok := p.actors[actorType]; ok {
		return a.post
	}
	return p.defaultActorPolicy(actorType, template{timeout: p.defaultActor.timeout})
}

// defaultActorPolicy applies the default actor policies; the default
// breaker is per actor type.
func (p *Provider) defaultActorPolicy(actorType string, t template) Policy {
	if t.isZero() {
		return Policy{}
	}
	target := Target{Type: TargetActor, Name: actorType}
	var b *breaker
	if t.breaker != nil {
		b = p.actorBreakers.get(actorType, func() *breaker { return t.breaker.newBreaker(target, p.env.log, p.env.obs) })
	}
	return p.policy(t, target, b)
}
