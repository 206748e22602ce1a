package metrics

import (
	"context"
	"io"
	"sync"
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
}

func newHTTPClientMetrics(m *Metrics) httpClientMetrics {
	received := m.histogram("dapr_http_client_received_bytes", "Total bytes received in response bodies (not including headers but including error responses with bodies).", sizeBuckets, "app_id")
	h := httpClientMetrics{
		completed: m.counter("dapr_http_client_completed_count", "Count of completed requests.", "app_id", "method", "path", "status"),
		latency:   m.histogram("dapr_http_client_roundtrip_latency", "Time between first byte of request headers sent to last byte of response received, or terminal error, in milliseconds.", m.latency, "app_id", "method", "path", "status"),
		sent:      m.histogram("dapr_http_client_sent_bytes", "Total bytes sent in request body (not including headers).", sizeBuckets, "app_id", "method", "path"),
	}
	h.received, _ = received.with(m.appID)
	return h
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
	start := time.Now()
	sent := bodyLen(req)
	var method, path string
	if !c.grpc {
		msg := req.Message.GetMessage()
		method = c.m.httpMethod(verbName(msg.GetHttpExtension().GetVerb()))
		path = c.m.paths.label("/" + msg.GetMethod())
		if h, ok := c.m.httpClient.sent.with(c.m.appID, method, path); ok {
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
	resp.Body = &countingBody{ReadCloser: resp.Body, done: func(n int64) { c.done(method, path, nil, code, n, sent, start) }}
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
	if ctr, ok := m.httpClient.completed.with(m.appID, method, path, status); ok {
		ctr.Inc()
	}
	if h, ok := m.httpClient.latency.with(m.appID, method, path, status); ok {
		h.Observe(sinceMillis(start))
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

func verbName(v commonv1.HTTPExtension_Verb) string {
	if v == commonv1.HTTPExtension_NONE {
		return "POST" // the app channel's default verb
	}
	return v.String()
}

// countingBody reports the bytes read when the body is closed (or fully
// read), once.
type countingBody struct {
	io.ReadCloser
	n    int64
	once sync.Once
	done func(n int64)
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.once.Do(func() { b.done(b.n) })
	}
	return n, err
}

func (b *countingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.done(b.n) })
	return err
}
