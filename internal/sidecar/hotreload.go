package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/pubsub"
	"github.com/outrigger/outrigger/internal/pubsub/delivery"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// featureHotReload is the Configuration feature that turns hot reload on.
const featureHotReload = "HotReload"

// drainTimeout bounds the wait for API calls that may still hold a replaced
// component before it is closed anyway.
const drainTimeout = 10 * time.Second

// reloader applies changes of the resource files to the running sidecar
// (the HotReload feature): components, declarative subscriptions,
// Resiliency and HTTPEndpoint resources. Reloads run one at a time.
type reloader struct {
	opts    options.Options
	env     componentEnv
	log     *slog.Logger
	core    *api.Core
	md      *api.Metadata
	engine  *delivery.Engine
	inputs  *inputs.Engine
	inv     *invocation
	res     *resiliency.Provider
	metrics *metrics.Metrics

	// comps is the sidecar's loaded set; the reloader keeps its closers
	// current so shutdown closes the live instances.
	comps *loaded
	// pinned are components other parts of the sidecar hold directly
	// (actor and outbox state stores, middleware): a change to them needs
	// a restart.
	pinned map[string]bool

	set  *resources.Set                 // the resources now applied
	live map[string]resources.Component // by componentKey, the applied spec of each loaded part
}

// componentChange is the diff of one component between two loads.
type componentChange struct {
	key      string
	old, new *resources.Component // nil when added / removed
}

// diffComponents compares the applied components with a fresh load: added,
// removed and changed (spec or scopes differ) ones, in the new load order
// (removals last).
func diffComponents(old map[string]resources.Component, next []resources.Component) []componentChange {
	var out []componentChange
	seen := make(map[string]bool, len(next))
	for i := range next {
		c := &next[i]
		key := componentKey(*c)
		seen[key] = true
		prev, ok := old[key]
		switch {
		case !ok:
			out = append(out, componentChange{key: key, new: c})
		case !sameComponent(prev, *c):
			out = append(out, componentChange{key: key, old: &prev, new: c})
		}
	}
	for _, key := range sortedKeys(old) {
		if !seen[key] {
			prev := old[key]
			out = append(out, componentChange{key: key, old: &prev})
		}
	}
	return out
}

// sameComponent reports whether a reload leaves a component as it is: the
// file it came from does not matter, its spec and scopes do.
func sameComponent(a, b resources.Component) bool {
	return reflect.DeepEqual(a.Spec, b.Spec) && slices.Equal(a.Scopes, b.Scopes) &&
		reflect.DeepEqual(a.Auth, b.Auth)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// reload loads the resource files again and applies what changed. A load
// with problems changes nothing: every problem is logged (file, document,
// field) and everything loaded before keeps serving.
func (r *reloader) reload(ctx context.Context) {
	set, err := resources.Load(ctx, resources.LoadOptions{ResourcesPaths: r.opts.ResourcesPaths, AppID: r.opts.AppID, Namespace: r.opts.Namespace, Logger: r.log})
	if err != nil {
		r.logLoadError(err)
		return
	}
	set.Components = withBuiltinSecretStore(r.opts, set.Components)

	retired, restartedPubSubs, changed := r.applyComponents(ctx, set)
	drain := func(context.Context) error { return nil }
	all := r.current()
	if changed {
		r.comps.closers = all.closers
		drain = r.core.SwapComponents(api.Components{
			StateStores: all.stateStores, PubSubs: all.pubsubs, Secrets: all.secrets, Locks: all.locks,
			Configs: all.configs, Crypto: all.cryptos, Outputs: all.outputs,
		})
		r.inputs.Reload(all.inputs)
	}
	if changed || !reflect.DeepEqual(r.set.Subscriptions, set.Subscriptions) {
		r.engine.Reload(pubsubsByName(all.pubsubs), restartedPubSubs, set.Subscriptions)
		r.log.Info("hot reload: subscriptions reconciled", "declarative", len(set.Subscriptions))
	}
	r.applyResiliency(set)
	r.applyEndpoints(set)
	api.SortComponents(all.registered)
	r.md.SetResources(all.registered, endpointNames(set), resiliencyNames(set))
	r.set = set
	r.retire(ctx, drain, retired)
}

// logLoadError logs each problem of a failed load on its own line.
func (r *reloader) logLoadError(err error) {
	var joined interface{ Unwrap() []error }
	list := []error{err}
	if errors.As(err, &joined) {
		list = joined.Unwrap()
	}
	for _, e := range list {
		var re *resources.Error
		if errors.As(e, &re) {
			r.log.Error("hot reload: resource file rejected; the previous resources keep serving",
				"file", re.File, "document", re.Document, "field", re.Field, "error", re.Err)
			continue
		}
		r.log.Error("hot reload: loading resources failed; the previous resources keep serving", "error", e)
	}
}

// applyComponents initialises the added and changed components and
// records them as live parts. It returns the parts replaced or removed
// (to close once drained), the pub/subs whose instance changed, and
// whether anything changed. A component whose new version fails to
// initialise keeps its old version serving.
func (r *reloader) applyComponents(ctx context.Context, set *resources.Set) (retired []*loaded, restartedPubSubs []string, changed bool) {
	changes := diffComponents(r.live, set.Components)
	// Secret stores first: the others may read secretKeyRefs from them.
	slices.SortStableFunc(changes, func(a, b componentChange) int {
		return boolRank(!isSecretKey(a.key)) - boolRank(!isSecretKey(b.key))
	})
	for _, ch := range changes {
		if reason := r.notReloadable(ch); reason != "" {
			r.log.Warn("hot reload: component change ignored; restart the sidecar to apply it", "component", ch.key, "reason", reason)
			continue
		}
		old := r.comps.parts[ch.key]
		if ch.new == nil {
			r.log.Info("hot reload: component removed", "component", ch.key)
			delete(r.live, ch.key)
			if old != nil { // nil when it never initialised
				delete(r.comps.parts, ch.key)
				retired, changed = append(retired, old), true
			}
			continue
		}
		part, err := r.initPart(ctx, *ch.new)
		// Recorded even on failure, so the same broken spec is not retried
		// on every reload; the next edit of the file retries it.
		r.live[ch.key] = *ch.new
		if err != nil {
			r.metrics.ComponentInitFailed(ch.new.Spec.Type, metrics.InitFailInit, ch.new.Name())
			if old != nil {
				r.log.Error("hot reload: new version of the component failed to initialise; the old one keeps serving", "component", ch.key, "file", ch.new.Source.String(), "error", err)
			} else {
				r.log.Error("hot reload: new component failed to initialise; not loaded", "component", ch.key, "file", ch.new.Source.String(), "error", err)
			}
			continue
		}
		r.metrics.ComponentLoaded(ch.new.Spec.Type)
		r.comps.parts[ch.key] = part
		changed = true
		if old == nil {
			r.log.Info("hot reload: component added", "component", ch.key)
			continue
		}
		r.log.Info("hot reload: component updated", "component", ch.key)
		retired = append(retired, old)
		if ch.new.Category() == resources.CategoryPubSub {
			restartedPubSubs = append(restartedPubSubs, ch.new.Name())
		}
	}
	return retired, restartedPubSubs, changed
}

// notReloadable says why a change cannot be applied live, or "".
func (r *reloader) notReloadable(ch componentChange) string {
	for _, c := range []*resources.Component{ch.old, ch.new} {
		switch {
		case c == nil:
		case r.pinned[componentKey(*c)]:
			return "the component is used by actors, the outbox or a middleware pipeline"
		case c.IsActorStateStore():
			return "actor state stores are not hot reloaded"
		case c.Category() == resources.CategoryMiddleware:
			return "middleware pipelines are built at startup"
		}
	}
	return ""
}

// initPart initialises one component on its own, with the live secret
// stores available for its secretKeyRefs.
func (r *reloader) initPart(ctx context.Context, c resources.Component) (*loaded, error) {
	if deniedType(r.env.denied, c.Spec.Type, c.Spec.Version) {
		return nil, fmt.Errorf("component type %s denied by configuration", c.Spec.Type)
	}
	l := &loaded{secrets: r.current().secrets}
	m := l.mark()
	if err := l.load(ctx, r.env, c); err != nil {
		l.closeSince(m, r.log)
		return nil, err
	}
	l.recordPart(c, m)
	return l.parts[componentKey(c)], nil
}

// closeSince closes what a failed load left open after m.
func (l *loaded) closeSince(m loadMark, log *slog.Logger) {
	for i := len(l.closers) - 1; i >= m.closers; i-- {
		if err := l.closers[i](); err != nil {
			log.Warn("closing component failed", "error", err)
		}
	}
}

// current merges the live parts, secret stores first as at startup.
func (r *reloader) current() *loaded {
	keys := sortedKeys(r.comps.parts)
	slices.SortStableFunc(keys, func(a, b string) int {
		return boolRank(!isSecretKey(a)) - boolRank(!isSecretKey(b))
	})
	all := &loaded{}
	for _, key := range keys {
		all.add(r.comps.parts[key])
	}
	return all
}

// retire closes replaced and removed components once the API calls that
// started before the swap have returned (or drainTimeout passed).
func (r *reloader) retire(ctx context.Context, drain func(context.Context) error, parts []*loaded) {
	if len(parts) == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	if err := drain(dctx); err != nil {
		r.log.Warn("hot reload: calls still using replaced components; closing them anyway", "error", err)
	}
	for _, p := range parts {
		p.close(r.log)
	}
}

// applyResiliency rebuilds the policies when a Resiliency resource changed
// and swaps them behind the provider every building block holds.
func (r *reloader) applyResiliency(set *resources.Set) {
	if reflect.DeepEqual(r.set.Resiliencies, set.Resiliencies) {
		return
	}
	next, err := newResiliency(set, r.metrics.ResiliencyObserver(), r.log)
	if err != nil {
		r.log.Error("hot reload: resiliency not reloaded; the previous policies keep applying", "error", err)
		return
	}
	r.res.Replace(next)
	r.log.Info("hot reload: resiliency policies reloaded", "resiliencies", len(set.Resiliencies))
}

// applyEndpoints swaps the invoker's HTTPEndpoint table when it changed.
func (r *reloader) applyEndpoints(set *resources.Set) {
	if reflect.DeepEqual(r.set.HTTPEndpoints, set.HTTPEndpoints) {
		return
	}
	r.inv.invoker.SetHTTPEndpoints(set.HTTPEndpoints)
	r.log.Info("hot reload: HTTP endpoints reloaded", "endpoints", len(set.HTTPEndpoints))
}

func pubsubsByName(list []*pubsub.Component) map[string]*pubsub.Component {
	m := make(map[string]*pubsub.Component, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	return m
}

func endpointNames(set *resources.Set) []string {
	var out []string
	for _, e := range set.HTTPEndpoints {
		out = append(out, e.Name())
	}
	return out
}

func resiliencyNames(set *resources.Set) []string {
	var out []string
	for _, x := range set.Resiliencies {
		out = append(out, x.Metadata.Name)
	}
	return out
}

func isSecretKey(key string) bool {
	return strings.HasPrefix(key, string(resources.CategorySecretStores)+"/")
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
