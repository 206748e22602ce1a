package metrics

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outrigger/outrigger/internal/resiliency"
)

// resiliencyMetrics are daprd's dapr_resiliency_* instruments.
type resiliencyMetrics struct {
	loaded      *vec[prometheus.Counter]
	executed    *vec[prometheus.Counter]
	activations *vec[prometheus.Counter]
	cbState     *vec[prometheus.Gauge]

	// executedCache holds dapr_resiliency_count's series by target and
	// policy kind: every call under a policy counts, so it is hot.
	executedCache *children[policyKey, prometheus.Counter]
}

type policyKey struct {
	target resiliency.Target
	kind   resiliency.Kind
}

func newResiliencyMetrics(m *Metrics) resiliencyMetrics {
	labels := []string{"app_id", "name", "policy", "namespace", "flow_direction", "target", "status"}
	return resiliencyMetrics{
		loaded:      m.counter("dapr_resiliency_loaded", "Number of resiliency policies loaded.", "app_id", "name", "namespace"),
		executed:    m.counter("dapr_resiliency_count", "Number of times a resiliency policy has been applied to a building block.", labels...),
		activations: m.counter("dapr_resiliency_activations_total", "Number of times a resiliency policy has been activated in a building block after a failure or after a state change.", labels...),
		cbState:     m.gauge("dapr_resiliency_cb_state", "A circuit breaker's current state: 1 for the active state, 0 for the others.", labels...),

		executedCache: &children[policyKey, prometheus.Counter]{},
	}
}

// breakerStates are the values of the status label of dapr_resiliency_cb_state.
var breakerStates = []string{"closed", "half-open", "open"}

// ResiliencyObserver returns the resiliency.Observer that records policy
// events; nil when metrics are off.
func (m *Metrics) ResiliencyObserver() resiliency.Observer {
	if m == nil {
		return nil
	}
	return resiliencyObserver{m: m}
}

type resiliencyObserver struct{ m *Metrics }

func (o resiliencyObserver) PolicyLoaded(resource string) {
	if c, ok := o.m.res.loaded.with(o.m.appID, resource, o.m.namespace); ok {
		c.Inc()
	}
}

// The Observer does not say which Resiliency resource a policy came from
// (policies of all resources are merged), so the name label is empty.
func (o resiliencyObserver) PolicyExecuted(t resiliency.Target, kind resiliency.Kind) {
	r := &o.m.res
	c, ok := cached(r.executedCache, policyKey{t, kind}, func() (policyKey, prometheus.Counter, bool) {
		c, ok := r.executed.with(o.m.appID, "", string(kind), o.m.namespace, string(t.Direction), target(t), "")
		keep := t
		keep.Name = strings.Clone(t.Name)
		return policyKey{keep, kind}, c, ok
	})
	if ok {
		c.Inc()
	}
}

func (o resiliencyObserver) PolicyActivated(t resiliency.Target, kind resiliency.Kind) {
	if kind == resiliency.KindCircuitBreaker {
		// daprd counts breaker activations by state change (CircuitBreakerState).
		return
	}
	if c, ok := o.m.res.activations.with(o.m.appID, "", string(kind), o.m.namespace, string(t.Direction), target(t), ""); ok {
		c.Inc()
	}
}

func (o resiliencyObserver) CircuitBreakerState(t resiliency.Target, to string) {
	tg, dir, pol := target(t), string(t.Direction), string(resiliency.KindCircuitBreaker)
	if c, ok := o.m.res.activations.with(o.m.appID, "", pol, o.m.namespace, dir, tg, to); ok {
		c.Inc()
	}
	for _, s := range breakerStates {
		if g, ok := o.m.res.cbState.with(o.m.appID, "", pol, o.m.namespace, dir, tg, s); ok {
			g.Set(float64(b2i(s == to)))
		}
	}
}

// target is daprd's target label: app_<id>, actor_<type> or
// <component kind>_<name>.
func target(t resiliency.Target) string {
	switch t.Type {
	case resiliency.TargetApp:
		return "app_" + t.Name
	case resiliency.TargetActor:
		return "actor_" + t.Name
	case resiliency.TargetComponent:
		return strings.ToLower(string(t.ComponentKind)) + "_" + t.Name
	}
	return string(t.Type) + "_" + t.Name
}
