package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// httpServerMetrics are daprd's dapr_http_server_* instruments.
type httpServerMetrics struct {
	count     *vec[prometheus.Counter]
	latency   *vec[prometheus.Observer]
	reqBytes  prometheus.Observer
	respBytes prometheus.Observer
	cache     *children[httpKey, httpChildren]
}

// httpKey is the label tuple of one HTTP server series.
type httpKey struct{ method, path, status string }

type httpChildren struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

func newHTTPServerMetrics(m *Metrics) httpServerMetrics {
	reqBytes := m.histogram("dapr_http_server_request_bytes", "HTTP request body size if set as ContentLength (uncompressed) in server.", sizeBuckets, "app_id")
	respBytes := m.histogram("dapr_http_server_response_bytes", "HTTP response body size (uncompressed) in server.", sizeBuckets, "app_id")
	h := httpServerMetrics{
		count:   m.counter("dapr_http_server_request_count", "Count of HTTP requests processed by the server.", "app_id", "method", "path", "status"),
		latency: m.histogram("dapr_http_server_latency", "HTTP request end-to-end latency in server, in milliseconds.", m.latency, "app_id", "method", "path", "status"),
		cache:   &children[httpKey, httpChildren]{},
	}
	h.reqBytes, _ = reqBytes.with(m.appID)
	h.respBytes, _ = respBytes.with(m.appID)
	return h
}

// HTTPMiddleware records the HTTP API's server metrics and, with
// recordErrorCodes, the Dapr error codes the API answers with. With
// metrics off it returns next unchanged.
func (m *Metrics) HTTPMiddleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		m.httpServerDone(r, rec, start)
	})
}

func (m *Metrics) httpServerDone(r *http.Request, rec *recorder, start time.Time) {
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := sinceMillis(start)
	if ch, ok := m.httpServer.series(httpKey{m.httpMethod(r.Method), m.paths.label(r.URL.Path), statusLabel(status)}, m.appID); ok {
		ch.count.Inc()
		ch.latency.Observe(elapsed)
	}
	if r.ContentLength > 0 {
		m.httpServer.reqBytes.Observe(float64(r.ContentLength))
	} else {
		m.httpServer.reqBytes.Observe(0)
	}
	m.httpServer.respBytes.Observe(float64(rec.written))
	if rec.errorCode != "" {
		m.ErrorCode(rec.errorCode)
	}
}

// series resolves the instruments of one label tuple.
func (h *httpServerMetrics) series(k httpKey, appID string) (httpChildren, bool) {
	if ch, ok := h.cache.lookup(k); ok {
		return ch, true
	}
	c, ok1 := h.count.with(appID, k.method, k.path, k.status)
	l, ok2 := h.latency.with(appID, k.method, k.path, k.status)
	if !ok1 || !ok2 {
		return httpChildren{}, false
	}
	ch := httpChildren{count: c, latency: l}
	h.cache.store(k, ch)
	return ch, true
}

// recorder notes the status, size and Dapr error code of a response. It
// keeps Flush and, through Unwrap, http.ResponseController working.
type recorder struct {
	http.ResponseWriter
	status    int
	written   int64
	errorCode string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.written += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// SetErrorCode records the Dapr error code of an HTTP error response.
func (r *recorder) SetErrorCode(code string) { r.errorCode = code }

// RecordHTTPErrorCode tells the metrics middleware which Dapr error code
// the API answered with (the HTTP API's error writer calls it). It finds
// the middleware's writer through any wrappers that offer Unwrap, and does
// nothing when metrics are off.
func RecordHTTPErrorCode(w http.ResponseWriter, code string) {
	for w != nil {
		switch x := w.(type) {
		case *recorder:
			x.SetErrorCode(code)
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}
