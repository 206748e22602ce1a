// Package metrics records Dapr's sidecar metrics (same names, labels, units
// and buckets as daprd) in a Prometheus registry of its own and serves them
// on --metrics-port.
//
// A nil *Metrics is the disabled recorder: every method returns at once, so
// building blocks call the hooks unconditionally and pay almost nothing when
// metrics are off (--enable-metrics=false or Configuration
// spec.metrics.enabled: false).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outrigger/outrigger/internal/resources"
)

// Options are the sidecar-level settings.
type Options struct {
	AppID     string
	Namespace string
	// Enabled is --enable-metrics; the Configuration can still turn
	// metrics off.
	Enabled bool
}

// Metrics holds Dapr's instruments. Methods are safe for concurrent use and
// do nothing on a nil receiver.
type Metrics struct {
	appID     string
	namespace string
	reg       *prometheus.Registry
	rules     rules
	latency   []float64 // latency buckets in milliseconds
	paths     *pathLabeler
	verbs     bool // false with http.excludeVerbs: the method label is empty
	errCodes  bool // spec.metrics.recordErrorCodes

	httpServer httpServerMetrics
	httpClient httpClientMetrics
	grpcServer grpcServerMetrics
	grpcClient grpcClientMetrics
	comp       componentMetrics
	runtime    runtimeMetrics
	actor      actorMetrics
	res        resiliencyMetrics
	errors     *vec[prometheus.Counter]
}

// New builds the recorder from the flags and the Configuration's metrics
// spec. It returns nil (the no-op recorder) when metrics are disabled, and
// an error when a rule's regular expression or a path pattern is invalid
// (daprd refuses to start then too).
func New(opts Options, spec resources.MetricSpec) (*Metrics, error) {
	if !opts.Enabled || !spec.IsEnabled() {
		return nil, nil
	}
	rs, err := compileRules(spec.Rules)
	if err != nil {
		return nil, err
	}
	paths, err := newPathLabeler(spec.HTTP)
	if err != nil {
		return nil, err
	}
	m := &Metrics{
		appID:     opts.AppID,
		namespace: opts.Namespace,
		reg:       prometheus.NewRegistry(),
		rules:     rs,
		latency:   latencyBuckets(spec.LatencyDistributionBuckets),
		paths:     paths,
		verbs:     spec.HTTP == nil || spec.HTTP.ExcludeVerbs == nil || !*spec.HTTP.ExcludeVerbs,
		errCodes:  spec.RecordErrorCodes != nil && *spec.RecordErrorCodes,
	}
	// Like daprd, also expose the Go runtime and process collectors.
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.httpServer = newHTTPServerMetrics(m)
	m.httpClient = newHTTPClientMetrics(m)
	m.grpcServer = newGRPCServerMetrics(m)
	m.grpcClient = newGRPCClientMetrics(m)
	m.comp = newComponentMetrics(m)
	m.runtime = newRuntimeMetrics(m)
	m.actor = newActorMetrics(m)
	m.res = newResiliencyMetrics(m)
	m.errors = m.counter("dapr_error_code_total", "Number of times an error with a specific error code was returned.", "app_id", "category", "error_code")
	return m, nil
}

// Enabled reports whether metrics are recorded.
func (m *Metrics) Enabled() bool { return m != nil }

// Registry is the registry the instruments live in (for tests and for
// components that add their own collectors).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Start returns the time an operation starts, for the recorder's methods
// to measure its latency (its wall-clock part is approximate, see now), or
// the zero time when metrics are off so the disabled path skips reading
// the clock.
func (m *Metrics) Start() time.Time {
	if m == nil {
		return time.Time{}
	}
	return now()
}

// clockBase anchors now. It carries a monotonic clock reading.
var clockBase = time.Now()

// now is the start of a latency measurement. It reads only the monotonic
// clock: time.Now reads the wall clock as well, which costs a second clock
// read per call (about three times the cost of now on our benchmark VM),
// and the recorder only ever subtracts these times (time.Since and Sub use
// the monotonic readings), so the wall part, clockBase's plus the elapsed
// time, is never looked at.
func now() time.Time { return clockBase.Add(time.Since(clockBase)) }

// sinceMillis is the elapsed time in milliseconds, Dapr's latency unit.
func sinceMillis(start time.Time) float64 {
	return float64(time.Since(start)) / float64(time.Millisecond)
}

// counter, histogram and gauge create and register a labelled instrument
// with the Configuration's label rules attached.
func (m *Metrics) counter(name, help string, labels ...string) *vec[prometheus.Counter] {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(cv)
	return newVec[prometheus.Counter](cv, m.rules.forMetric(name, labels))
}

func (m *Metrics) histogram(name, help string, buckets []float64, labels ...string) *vec[prometheus.Observer] {
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.reg.MustRegister(hv)
	return newVec[prometheus.Observer](hv, m.rules.forMetric(name, labels))
}

func (m *Metrics) gauge(name, help string, labels ...string) *vec[prometheus.Gauge] {
	gv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(gv)
	return newVec[prometheus.Gauge](gv, m.rules.forMetric(name, labels))
}
