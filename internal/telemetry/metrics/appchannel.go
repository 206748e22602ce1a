package metrics

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outrigger/outrigger/internal/appchannel"
)

// httpClientMetrics are daprd's dapr_http_client_* instruments: the
// sidecar's HTTP calls to the app.
type httpClientMetrics struct {
	completed *vec[prometheus.Counter]
	latency   *vec[prometheus.Observer]
	sent      *vec[prometheus.Observer]
	received  prometheus.Observer

	sentCache *children[[2]string, prometheus.Observer] // by method, path
	doneCache *children[httpKey, httpChildren]
}

func newHTTPClientMetrics(m *Metrics) httpClientMetrics {
	received := m.histogram("dapr_http_client_received_bytes", "Total bytes received in response bodies (not including headers but including error responses with bodies).", sizeBuckets, "app_id")
	h := httpClientMetrics{
		completed: m.counter("dapr_http_client_completed_count", "Count of completed requests.", "app_id", "method", "path", "status"),
		latency:   m.histogram("dapr_http_client_roundtrip_latency", "Time between first byte of request headers sent to last byte of response received, or terminal error, in milliseconds.", m.latency, "app_id", "method", "path", "status"),
		sent:      m.histogram("dapr_http_client_sent_bytes", "Total bytes sent in request body (not including headers).", sizeBuckets, "app_id", "method", "path"),
		sentCache: &children[[2]string, prometheus.Observer]{},
		doneCache: &children[httpKey, httpChildren]{},
	}
	h.received, _ = received.with(m.appID)
	return h
}

// sentSeries is the sent-bytes histogram of one method and path.
func (h *httpClientMetrics) sentSeries(appID, method, path string) (prometheus.Observer, bool) {
	return cached(h.sentCache, [2]string{method, path}, func() ([2]string, prometheus.Observer, bool) {
		o, ok := h.sent.with(appID, method, path)
		return [2]string{strings.Clone(method), strings.Clone(path)}, o, ok
	})
}

// doneSeries is the count and latency of one method, path and status.
func (h *httpClientMetrics) doneSeries(appID string, k httpKey) (httpChildren, bool) {
	return cached(h.doneCache, k, func() (httpKey, httpChildren, bool) {
		c, ok1 := h.completed.with(appID, k.method, k.path, k.status)
		l, ok2 := h.latency.with(appID, k.method, k.path, k.status)
		keep := httpKey{strings.Clone(k.method), strings.Clone(k.path), k.status}
		return keep, httpChildren{count: c, latency: l}, ok1 && ok2
	})
}

// appCallbackMethod is the gRPC method an invocation of a gRPC app calls.
const appCallbackMethod = "/dapr.proto.runtime.v1.AppCallback/OnInvoke"

// WrapAppChannel returns ch with the client metrics of calls to the app:
// dapr_http_client_* for HTTP apps, dapr_grpc_io_client_* for gRPC apps.
// Health probes should use the unwrapped channel. With metrics off (or a
// nil ch) it returns ch.
func (m *Metrics) WrapAppChannel(ch appchannel.Channel) appchannel.Channel {
	if m == nil || ch == nil {
		return ch
	}
	p := ch.Protocol()
	return &appChannel{Channel: ch, m: m, grpc: p == "grpc" || p == "grpcs"}
}

type appChannel struct {
	appchannel.Channel
	m    *Metrics
	grpc bool
}

func (c *appChannel) Invoke(ctx context.Context, req *appchannel.Request) (*appchannel.Response, error) {
	start := now()
	sent := bodyLen(req)
	var method, path string
	if !c.grpc {
		msg := req.Message.GetMessage()
		method = c.m.httpMethod(verbName(msg.GetHttpExtension().GetVerb()))
		path = c.m.paths.methodPath(msg.GetMethod())
		if h, ok := c.m.httpClient.sentSeries(c.m.appID, method, path); ok {
			h.Observe(float64(sent))
		}
	}
	resp, err := c.Channel.Invoke(ctx, req)
	if err != nil {
		c.done(method, path, err, 0, 0, sent, start)
		return nil, err
	}
	code := int(resp.Message.GetStatus().GetCode())
	if resp.Body == nil {
		c.done(method, path, nil, code, 0, sent, start)
		return resp, nil
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, c: c, method: method, path: path, code: code, sent: sent, start: start}
	return resp, nil
}

// done records a finished call: err when the app could not be reached,
// else its status (HTTP status or gRPC code) and body size.
func (c *appChannel) done(method, path string, err error, code int, received, sent int64, start time.Time) {
	m := c.m
	if c.grpc {
		st := codes.Code(code)
		if err != nil {
			st = status.Code(err)
		}
		m.grpcClientDone(appCallbackMethod, st, int(sent), int(received), start)
		return
	}
	status := ""
	if err == nil {
		status = statusLabel(code)
	}
	if ch, ok := m.httpClient.doneSeries(m.appID, httpKey{method, path, status}); ok {
		ch.count.Inc()
		ch.latency.Observe(sinceMillis(start))
	}
	m.httpClient.received.Observe(float64(received))
}

// bodyLen is the request body size when the reader knows it.
func bodyLen(req *appchannel.Request) int64 {
	if l, ok := req.Body.(interface{ Len() int }); ok {
		return int64(l.Len())
	}
	return 0
}

// verbNames are the verbs' names by enum value, so labelling a call does
// not go through the enum's reflective String method.
var verbNames = func() map[commonv1.HTTPExtension_Verb]string {
	out := make(map[commonv1.HTTPExtension_Verb]string, len(commonv1.HTTPExtension_Verb_name))
	for v, name := range commonv1.HTTPExtension_Verb_name {
		out[commonv1.HTTPExtension_Verb(v)] = name
	}
	return out
}()

func verbName(v commonv1.HTTPExtension_Verb) string {
	if v == commonv1.HTTPExtension_NONE {
		return "POST" // the app channel's default verb
	}
	if name, ok := verbNames[v]; ok {
		return name
	}
	return v.String()
}

// countingBody records the call once its body is closed (or fully read):
// the label values travel with it, so wrapping a response costs one
// allocation.
type countingBody struct {
	io.ReadCloser
	c            *appChannel
	method, path string
	code         int
	sent         int64
	start        time.Time

	n        int64
	recorded atomic.Bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.record()
	}
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.record()
	return err
}

func (b *countingBody) record() {
	if b.recorded.CompareAndSwap(false, true) {
		b.c.done(b.method, b.path, nil, b.code, b.n, b.sent, b.start)
	}
}
