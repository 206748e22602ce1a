package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Operation label values of the component metrics, as daprd names them.
const (
	OpGet         = "get"
	OpSet         = "set"
	OpDelete      = "delete"
	OpBulkGet     = "bulk_get"
	OpBulkDelete  = "bulk_delete"
	OpTransaction = "transaction"
	OpQuery       = "query"
	OpSubscribe   = "subscribe"
	OpUnsubscribe = "unsubscribe"
	OpCrypto      = "crypto_op"
)

// Pub/sub ingress outcomes (process_status and status labels).
const (
	IngressSuccess = "success"
	IngressRetry   = "retry"
	IngressDrop    = "drop"
)

// Component kinds with per-operation metrics.
const (
	KindState         = "state"
	KindSecret        = "secret"
	KindConfiguration = "configuration"
	KindOutputBinding = "output_binding"
	KindCrypto        = "crypto"
)

// opPair is the count and latency instruments of one component kind.
type opPair struct {
	count   *vec[prometheus.Counter]
	latency *vec[prometheus.Observer]
	cache   *children[opKey, opChildren]
}

// opKey is the label tuple of one component series (other than app_id
// and namespace, which are fixed).
type opKey struct{ a, b, c string }

type opChildren struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func newOpPair(count *vec[prometheus.Counter], latency *vec[prometheus.Observer]) opPair {
	return opPair{count: count, latency: latency, cache: &children[opKey, opChildren]{}}
}

// record counts one operation and its latency. k identifies the label
// values lvs (in the instruments' order) for the cache; lvs is only read
// on a cache miss.
func (p opPair) record(k opKey, start time.Time, lvs ...string) {
	ch, ok := p.cache.lookup(k)
	if !ok {
		// Clones keep lvs on the caller's stack (the library keeps them).
		c, ok1 := p.count.with(slices.Clone(lvs)...)
		l, ok2 := p.latency.with(slices.Clone(lvs)...)
		if !ok1 || !ok2 {
			return
		}
		ch = opChildren{count: c, latency: l}
		p.cache.store(k, ch)
	}
	ch.count.Inc()
	ch.latency.Observe(sinceMillis(start))
}

// componentMetrics are daprd's dapr_component_* instruments.
type componentMetrics struct {
	ops           map[string]opPair // by Kind…
	pubsubIn      opPair
	pubsubOut     opPair
	inputBinding  opPair
	successLabels [2]string
}

func newComponentMetrics(m *Metrics) componentMetrics {
	c := componentMetrics{ops: map[string]opPair{}, successLabels: [2]string{"false", "true"}}
	opLabels := []string{"app_id", "component", "namespace", "operation", "success"}
	for kind, what := range map[string]string{
		KindState: "state", KindSecret: "secret", KindConfiguration: "configuration",
		KindOutputBinding: "output binding", KindCrypto: "crypto",
	} {
		c.ops[kind] = newOpPair(
			m.counter("dapr_component_"+kind+"_count", "The number of operations performed on the "+what+" component.", opLabels...),
			m.histogram("dapr_component_"+kind+"_latencies", "The latency of the response from the "+what+" component, in milliseconds.", m.latency, opLabels...))
	}
	in := []string{"app_id", "component", "namespace", "process_status", "topic", "status"}
	c.pubsubIn = newOpPair(
		m.counter("dapr_component_pubsub_ingress_count", "The number of incoming messages arriving from the pub/sub component.", in...),
		m.histogram("dapr_component_pubsub_ingress_latencies", "The consuming app event processing latency, in milliseconds.", m.latency, in...))
	out := []string{"app_id", "component", "namespace", "success", "topic"}
	c.pubsubOut = newOpPair(
		m.counter("dapr_component_pubsub_egress_count", "The number of outgoing messages published to the pub/sub component.", out...),
		m.histogram("dapr_component_pubsub_egress_latencies", "The latency of the response from the pub/sub component, in milliseconds.", m.latency, out...))
	ib := []string{"app_id", "component", "namespace", "success"}
	c.inputBinding = newOpPair(
		m.counter("dapr_component_input_binding_count", "The number of incoming events arriving from the input binding component.", ib...),
		m.histogram("dapr_component_input_binding_latencies", "The triggered app event processing latency, in milliseconds.", m.latency, ib...))
	return c
}

// ComponentCalled records one operation on a component of kind (KindState,
// KindSecret, KindConfiguration, KindOutputBinding, KindCrypto) that began
// at start (from Start).
func (m *Metrics) ComponentCalled(kind, component, op string, err error, start time.Time) {
	if m == nil {
		return
	}
	p, ok := m.comp.ops[kind]
	if !ok {
		return
	}
	success := m.comp.successLabels[b2i(err == nil)]
	p.record(opKey{component, op, success}, start, m.appID, component, m.namespace, op, success)
}

// PubsubEgress records one publish to a pub/sub component.
func (m *Metrics) PubsubEgress(component, topic string, err error, start time.Time) {
	if m == nil {
		return
	}
	success := m.comp.successLabels[b2i(err == nil)]
	m.comp.pubsubOut.record(opKey{component, success, topic}, start, m.appID, component, m.namespace, success, topic)
}

// PubsubIngress records one message delivered to the app: outcome is
// IngressSuccess, IngressRetry or IngressDrop. start is when the delivery
// began (from Start).
func (m *Metrics) PubsubIngress(component, topic, outcome string, start time.Time) {
	if m == nil {
		return
	}
	m.comp.pubsubIn.record(opKey{component, outcome, topic}, start, m.appID, component, m.namespace, outcome, topic, outcome)
}

// InputBindingEvent records one input binding event handed to the app.
func (m *Metrics) InputBindingEvent(component string, err error, start time.Time) {
	if m == nil {
		return
	}
	success := m.comp.successLabels[b2i(err == nil)]
	m.comp.inputBinding.record(opKey{component, success, ""}, start, m.appID, component, m.namespace, success)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
