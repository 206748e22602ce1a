package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of dapr_runtime_component_init_fail_total.
const (
	InitFailCreation = "creation" // no such type/version
	InitFailInit     = "init"     // Init returned an error
)

// runtimeMetrics are daprd's dapr_runtime_component_* and
// dapr_runtime_service_invocation_* instruments.
type runtimeMetrics struct {
	loaded   prometheus.Counter
	initDone *vec[prometheus.Counter]
	initFail *vec[prometheus.Counter]

	reqSent    *vec[prometheus.Counter]
	reqRecv    *vec[prometheus.Counter]
	resSent    *vec[prometheus.Counter]
	resRecv    *vec[prometheus.Counter]
	resLatency *vec[prometheus.Observer]

	// The series of the invocation hot path by their label tuples: the
	// other app's id, the method and, for answers, the status.
	reqSentCache *children[[2]string, prometheus.Counter]
	reqRecvCache *children[[2]string, prometheus.Counter]
	resSentCache *children[[3]string, prometheus.Counter]
	resRecvCache *children[[3]string, httpChildren]
}

func newRuntimeMetrics(m *Metrics) runtimeMetrics {
	loaded := m.counter("dapr_runtime_component_loaded", "The number of successfully loaded components.", "app_id")
	r := runtimeMetrics{
		initDone:   m.counter("dapr_runtime_component_init_total", "The number of initialized components.", "app_id", "component"),
		initFail:   m.counter("dapr_runtime_component_init_fail_total", "The number of component initialization failures.", "app_id", "component", "reason", "name"),
		reqSent:    m.counter("dapr_runtime_service_invocation_req_sent_total", "The number of requests sent via service invocation.", "app_id", "destination_app_id", "method"),
		reqRecv:    m.counter("dapr_runtime_service_invocation_req_recv_total", "The number of requests received via service invocation.", "app_id", "source_app_id", "method"),
		resSent:    m.counter("dapr_runtime_service_invocation_res_sent_total", "The number of responses sent via service invocation.", "app_id", "destination_app_id", "method", "status"),
		resRecv:    m.counter("dapr_runtime_service_invocation_res_recv_total", "The number of responses received via service invocation.", "app_id", "source_app_id", "method", "status"),
		resLatency: m.histogram("dapr_runtime_service_invocation_res_recv_latency_ms", "The latency of service invocation responses, in milliseconds.", m.latency, "app_id", "source_app_id", "method", "status"),

		reqSentCache: &children[[2]string, prometheus.Counter]{},
		reqRecvCache: &children[[2]string, prometheus.Counter]{},
		resSentCache: &children[[3]string, prometheus.Counter]{},
		resRecvCache: &children[[3]string, httpChildren]{},
	}
	r.loaded, _ = loaded.with(m.appID)
	return r
}

// ComponentLoaded records a component of componentType (e.g. state.redis)
// that loaded and initialised.
func (m *Metrics) ComponentLoaded(componentType string) {
	if m == nil {
		return
	}
	m.runtime.loaded.Inc()
	if c, ok := m.runtime.initDone.with(m.appID, componentType); ok {
		c.Inc()
	}
}

// ComponentInitFailed records a component that failed to load; reason is
// InitFailCreation or InitFailInit.
func (m *Metrics) ComponentInitFailed(componentType, reason, name string) {
	if m == nil {
		return
	}
	if c, ok := m.runtime.initFail.with(m.appID, componentType, reason, name); ok {
		c.Inc()
	}
}

// InvocationRequestSent records a service invocation request to another
// app; call InvocationResponseReceived when its answer arrives.
func (m *Metrics) InvocationRequestSent(destAppID, method string) {
	if m == nil {
		return
	}
	if c, ok := counterSeries(m.runtime.reqSentCache, m.runtime.reqSent, m.appID, destAppID, method); ok {
		c.Inc()
	}
}

// InvocationResponseReceived records the answer (status: HTTP status or
// gRPC code number) to a request sent at start.
func (m *Metrics) InvocationResponseReceived(destAppID, method string, status int, start time.Time) {
	if m == nil {
		return
	}
	r := &m.runtime
	k := [3]string{destAppID, method, statusLabel(status)}
	ch, ok := cached(r.resRecvCache, k, func() ([3]string, httpChildren, bool) {
		c, ok1 := r.resRecv.with(m.appID, k[0], k[1], k[2])
		h, ok2 := r.resLatency.with(m.appID, k[0], k[1], k[2])
		return [3]string{strings.Clone(k[0]), strings.Clone(k[1]), k[2]}, httpChildren{count: c, latency: h}, ok1 && ok2
	})
	if ok {
		ch.count.Inc()
		ch.latency.Observe(sinceMillis(start))
	}
}

// InvocationRequestReceived records a request from another app's sidecar.
func (m *Metrics) InvocationRequestReceived(sourceAppID, method string) {
	if m == nil {
		return
	}
	if c, ok := counterSeries(m.runtime.reqRecvCache, m.runtime.reqRecv, m.appID, sourceAppID, method); ok {
		c.Inc()
	}
}

// InvocationResponseSent records the answer sent back to the caller.
func (m *Metrics) InvocationResponseSent(sourceAppID, method string, status int) {
	if m == nil {
		return
	}
	r := &m.runtime
	k := [3]string{sourceAppID, method, statusLabel(status)}
	c, ok := cached(r.resSentCache, k, func() ([3]string, prometheus.Counter, bool) {
		c, ok := r.resSent.with(m.appID, k[0], k[1], k[2])
		return [3]string{strings.Clone(k[0]), strings.Clone(k[1]), k[2]}, c, ok
	})
	if ok {
		c.Inc()
	}
}

// counterSeries is the counter of (appID, other, method), cached by
// (other, method).
func counterSeries(cache *children[[2]string, prometheus.Counter], v *vec[prometheus.Counter], appID, other, method string) (prometheus.Counter, bool) {
	return cached(cache, [2]string{other, method}, func() ([2]string, prometheus.Counter, bool) {
		c, ok := v.with(appID, other, method)
		return [2]string{strings.Clone(other), strings.Clone(method)}, c, ok
	})
}
