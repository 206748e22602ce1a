package metrics

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// grpcServerMetrics are daprd's dapr_grpc_io_server_* instruments.
type grpcServerMetrics struct {
	completed *vec[prometheus.Counter]
	latency   *vec[prometheus.Observer]
	recvBytes *vec[prometheus.Observer]
	sentBytes *vec[prometheus.Observer]
	cache     *children[grpcKey, grpcChildren]
}

// grpcKey is the label tuple of one gRPC series.
type grpcKey struct {
	method string
	code   codes.Code
}

type grpcChildren struct {
	completed prometheus.Counter
	latency   prometheus.Observer
	recvBytes prometheus.Observer
	sentBytes prometheus.Observer
}

func newGRPCServerMetrics(m *Metrics) grpcServerMetrics {
	return grpcServerMetrics{
		completed: m.counter("dapr_grpc_io_server_completed_rpcs", "Count of RPCs by method and status.", "app_id", "grpc_server_method", "grpc_server_status"),
		latency:   m.histogram("dapr_grpc_io_server_server_latency", "Time between first byte of request received to last byte of response sent, or terminal error, in milliseconds.", m.latency, "app_id", "grpc_server_method", "grpc_server_status"),
		recvBytes: m.histogram("dapr_grpc_io_server_received_bytes_per_rpc", "Total bytes received across all messages per RPC.", sizeBuckets, "app_id", "grpc_server_method"),
		sentBytes: m.histogram("dapr_grpc_io_server_sent_bytes_per_rpc", "Total bytes sent across all response messages per RPC.", sizeBuckets, "app_id", "grpc_server_method"),
		cache:     &children[grpcKey, grpcChildren]{},
	}
}

// grpcClientMetrics are daprd's dapr_grpc_io_client_* instruments.
type grpcClientMetrics struct {
	completed *vec[prometheus.Counter]
	latency   *vec[prometheus.Observer]
	recvBytes *vec[prometheus.Observer]
	sentBytes *vec[prometheus.Observer]
	cache     *children[grpcKey, grpcChildren]
}

func newGRPCClientMetrics(m *Metrics) grpcClientMetrics {
	return grpcClientMetrics{
		completed: m.counter("dapr_grpc_io_client_completed_rpcs", "Count of RPCs by method and status.", "app_id", "grpc_client_method", "grpc_client_status"),
		latency:   m.histogram("dapr_grpc_io_client_roundtrip_latency", "Time between first byte of request sent to last byte of response received, or terminal error, in milliseconds.", m.latency, "app_id", "grpc_client_method", "grpc_client_status"),
		recvBytes: m.histogram("dapr_grpc_io_client_received_bytes_per_rpc", "Total bytes received across all response messages per RPC.", sizeBuckets, "app_id", "grpc_client_method"),
		sentBytes: m.histogram("dapr_grpc_io_client_sent_bytes_per_rpc", "Total bytes sent across all request messages per RPC.", sizeBuckets, "app_id", "grpc_client_method"),
		cache:     &children[grpcKey, grpcChildren]{},
	}
}

// GRPCServerOptions are the interceptors that record the gRPC API's server
// metrics (and, with recordErrorCodes, Dapr error codes). Put them first so
// they see what other interceptors refuse. None when metrics are off.
func (m *Metrics) GRPCServerOptions() []grpc.ServerOption {
	if m == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(m.unaryServer), grpc.ChainStreamInterceptor(m.streamServer)}
}

func (m *Metrics) unaryServer(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	start := now()
	resp, err := next(ctx, req)
	var sent int
	if err == nil {
		sent = messageSize(resp)
	}
	m.grpcServerDone(info.FullMethod, err, messageSize(req), sent, start)
	return resp, err
}

func (m *Metrics) streamServer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	start := now()
	cs := &countingServerStream{ServerStream: ss}
	err := next(srv, cs)
	m.grpcServerDone(info.FullMethod, err, cs.recv, cs.sent, start)
	return err
}

func (m *Metrics) grpcServerDone(method string, err error, recv, sent int, start time.Time) {
	elapsed := sinceMillis(start)
	g := &m.grpcServer
	if ch, ok := grpcSeries(g.cache, grpcKey{method, status.Code(err)}, m.appID, g.completed, g.latency, g.recvBytes, g.sentBytes); ok {
		ch.completed.Inc()
		ch.latency.Observe(elapsed)
		ch.recvBytes.Observe(float64(recv))
		ch.sentBytes.Observe(float64(sent))
	}
	m.grpcErrorCode(err)
}

// countingServerStream adds up the sizes of the messages of one stream.
// gRPC calls RecvMsg and SendMsg from at most one goroutine each.
type countingServerStream struct {
	grpc.ServerStream
	recv, sent int
}

func (s *countingServerStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if err == nil {
		s.recv += messageSize(msg)
	}
	return err
}

func (s *countingServerStream) SendMsg(msg any) error {
	err := s.ServerStream.SendMsg(msg)
	if err == nil {
		s.sent += messageSize(msg)
	}
	return err
}

// messageSize is the encoded size of a proto message; raw frames (the gRPC
// proxy's codec) count their length.
func messageSize(msg any) int {
	switch v := msg.(type) {
	case proto.Message:
		return proto.Size(v)
	case []byte:
		return len(v)
	case *[]byte:
		return len(*v)
	case interface{ Len() int }:
		return v.Len()
	}
	return 0
}

// GRPCClientOptions are the interceptors that record the gRPC client
// metrics of the sidecar's calls (to other sidecars, to a gRPC app). None
// when metrics are off.
func (m *Metrics) GRPCClientOptions() []grpc.DialOption {
	if m == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(m.unaryClient), grpc.WithChainStreamInterceptor(m.streamClient)}
}

func (m *Metrics) unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	var recv int
	if err == nil {
		recv = messageSize(reply)
	}
	m.grpcClientDone(method, status.Code(err), messageSize(req), recv, start)
	return err
}

func (m *Metrics) streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	start := now()
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		m.grpcClientDone(method, status.Code(err), 0, 0, start)
		return nil, err
	}
	return &countingClientStream{ClientStream: cs, m: m, method: method, start: start}, nil
}

func (m *Metrics) grpcClientDone(method string, c codes.Code, sent, recv int, start time.Time) {
	elapsed := sinceMillis(start)
	g := &m.grpcClient
	if ch, ok := grpcSeries(g.cache, grpcKey{method, c}, m.appID, g.completed, g.latency, g.recvBytes, g.sentBytes); ok {
		ch.completed.Inc()
		ch.latency.Observe(elapsed)
		ch.recvBytes.Observe(float64(recv))
		ch.sentBytes.Observe(float64(sent))
	}
}

// grpcSeries resolves the instruments of one method and code.
func grpcSeries(cache *children[grpcKey, grpcChildren], k grpcKey, appID string, completed *vec[prometheus.Counter], latency, recv, sent *vec[prometheus.Observer]) (grpcChildren, bool) {
	if ch, ok := cache.lookup(k); ok {
		return ch, true
	}
	code := k.code.String()
	c, ok1 := completed.with(appID, k.method, code)
	l, ok2 := latency.with(appID, k.method, code)
	r, ok3 := recv.with(appID, k.method)
	s, ok4 := sent.with(appID, k.method)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return grpcChildren{}, false
	}
	ch := grpcChildren{completed: c, latency: l, recvBytes: r, sentBytes: s}
	cache.store(k, ch)
	return ch, true
}

// countingClientStream records a client stream when it ends: when RecvMsg
// returns io.EOF (OK) or an error.
type countingClientStream struct {
	grpc.ClientStream
	m      *Metrics
	method string
	start  time.Time

	mu         sync.Mutex
	sent, recv int
	done       bool
}

func (s *countingClientStream) SendMsg(msg any) error {
	err := s.ClientStream.SendMsg(msg)
	if err == nil {
		n := messageSize(msg)
		s.mu.Lock()
		s.sent += n
		s.mu.Unlock()
	}
	return err
}

func (s *countingClientStream) RecvMsg(msg any) error {
	err := s.ClientStream.RecvMsg(msg)
	if err == nil {
		n := messageSize(msg)
		s.mu.Lock()
		s.recv += n
		s.mu.Unlock()
		return nil
	}
	s.mu.Lock()
	first := !s.done
	s.done = true
	sent, recv := s.sent, s.recv
	s.mu.Unlock()
	if first {
		end := err
		if end == io.EOF {
			end = nil
		}
		s.m.grpcClientDone(s.method, status.Code(end), sent, recv, s.start)
	}
	return err
}
