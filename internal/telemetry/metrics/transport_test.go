package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/resources"
)

// wrapper is another middleware's writer, as API logging adds one.
type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestErrorCodes(t *testing.T) {
	for _, record := range []bool{true, false} {
		t.Run(map[bool]string{true: "recorded", false: "off by default"}[record], func(t *testing.T) {
			spec := resources.MetricSpec{}
			if record {
				spec.RecordErrorCodes = ptr(true)
			}
			m := newTest(t, spec)
			// HTTP: the error writer reaches the middleware through another wrapper.
			h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inner := wrapper{w}
				RecordHTTPErrorCode(inner, "ERR_STATE_STORE_NOT_FOUND")
				inner.WriteHeader(http.StatusBadRequest)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1.0/state/nope/k", nil))
			// gRPC: the handler's *apierr.Error carries the code.
			info := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetActorState"}
			_, _ = m.unaryServer(context.Background(), wrapperspb.String("x"), info, func(context.Context, any) (any, error) {
				return nil, &apierr.Error{Code: "ERR_ACTOR_INSTANCE_MISSING", GRPCCode: codes.Internal, Message: "missing"}
			})
			_, _ = m.unaryServer(context.Background(), wrapperspb.String("x"), info, func(context.Context, any) (any, error) {
				return nil, errors.New("not an API error")
			})
			want := map[string]float64{}
			if record {
				want = map[string]float64{
					"app_id=app1,category=state,error_code=ERR_STATE_STORE_NOT_FOUND":  1,
					"app_id=app1,category=actor,error_code=ERR_ACTOR_INSTANCE_MISSING": 1,
				}
			}
			wantSeries(t, m, "dapr_error_code_total", want)
		})
	}
}

func TestErrorCategory(t *testing.T) {
	cases := map[string]string{
		"ERR_STATE_GET": "state", "DAPR_STATE_NOT_FOUND": "state", "ERR_PUBSUB_NOT_FOUND": "pubsub",
		"ERR_PUBLISH_OUTBOX": "pubsub", "ERR_INVOKE_OUTPUT_BINDING": "binding", "ERR_DIRECT_INVOKE": "service-invocation",
		"ERR_SECRET_GET": "secret", "ERR_CONFIGURATION_GET": "configuration", "ERR_CRYPTO": "crypto",
		"ERR_TRY_LOCK": "lock", "ERR_LOCK_STORE_NOT_FOUND": "lock", "ERR_HEALTH_NOT_READY": "health",
		"ERR_ACTOR_RUNTIME_NOT_FOUND": "actor", "ERR_BAD_REQUEST": "common", "ERR_MALFORMED_REQUEST": "common",
	}
	for code, want := range cases {
		if got := errorCategory(code); got != want {
			t.Errorf("errorCategory(%s) = %s, want %s", code, got, want)
		}
	}
}

// fakeStream is a server stream that yields n messages then io.EOF.
type fakeStream struct {
	grpc.ServerStream
	left int
}

func (s *fakeStream) Context() context.Context { return context.Background() }
func (s *fakeStream) RecvMsg(m any) error {
	if s.left == 0 {
		return io.EOF
	}
	s.left--
	m.(*wrapperspb.StringValue).Value = "hello"
	return nil
}
func (s *fakeStream) SendMsg(any) error            { return nil }
func (s *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (s *fakeStream) SendHeader(metadata.MD) error { return nil }
func (s *fakeStream) SetTrailer(metadata.MD)       {}

func TestGRPCServerMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	unary := &grpc.UnaryServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/GetState"}
	_, _ = m.unaryServer(context.Background(), wrapperspb.String("key"), unary, func(context.Context, any) (any, error) {
		return wrapperspb.String("value!"), nil
	})
	_, _ = m.unaryServer(context.Background(), wrapperspb.String("key"), unary, func(context.Context, any) (any, error) {
		return nil, status.Error(codes.NotFound, "no")
	})
	stream := &grpc.StreamServerInfo{FullMethod: "/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1"}
	_ = m.streamServer(nil, &fakeStream{left: 2}, stream, func(_ any, ss grpc.ServerStream) error {
		for {
			var msg wrapperspb.StringValue
			if err := ss.RecvMsg(&msg); err != nil {
				return nil
			}
			_ = ss.SendMsg(&msg)
		}
	})
	wantSeries(t, m, "dapr_grpc_io_server_completed_rpcs", map[string]float64{
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/GetState,grpc_server_status=OK":                   1,
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/GetState,grpc_server_status=NotFound":             1,
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1,grpc_server_status=OK": 1,
	})
	wantSeries(t, m, "dapr_grpc_io_server_server_latency", map[string]float64{
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/GetState,grpc_server_status=OK":                   1,
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/GetState,grpc_server_status=NotFound":             1,
		"app_id=app1,grpc_server_method=/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1,grpc_server_status=OK": 1,
	})
	f := gather(t, m)
	for _, s := range f["dapr_grpc_io_server_received_bytes_per_rpc"].GetMetric() {
		if strings.Contains(labelsOf(s), "Subscribe") && s.GetHistogram().GetSampleSum() != 14 { // two 7-byte messages
			t.Errorf("stream received bytes = %v, want 14", s.GetHistogram().GetSampleSum())
		}
	}
}

func TestGRPCClientMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	err := m.unaryClient(context.Background(), "/svc/Call", wrapperspb.String("abc"), new(wrapperspb.StringValue), nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return status.Error(codes.Unavailable, "down")
		})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("interceptor changed the error: %v", err)
	}
	wantSeries(t, m, "dapr_grpc_io_client_completed_rpcs", map[string]float64{"app_id=app1,grpc_client_method=/svc/Call,grpc_client_status=Unavailable": 1})
	wantSeries(t, m, "dapr_grpc_io_client_roundtrip_latency", map[string]float64{"app_id=app1,grpc_client_method=/svc/Call,grpc_client_status=Unavailable": 1})
	wantSeries(t, m, "dapr_grpc_io_client_sent_bytes_per_rpc", map[string]float64{"app_id=app1,grpc_client_method=/svc/Call": 1})
}

// fakeChannel answers every call with a fixed status and body.
type fakeChannel struct {
	protocol string
	code     int32
	body     string
	err      error
}

func (c *fakeChannel) Invoke(context.Context, *appchannel.Request) (*appchannel.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	return &appchannel.Response{
		Message: &internalsv1.InternalInvokeResponse{Status: &internalsv1.Status{Code: c.code}},
		Body:    io.NopCloser(strings.NewReader(c.body)),
	}, nil
}
func (c *fakeChannel) GRPCConn() *grpc.ClientConn { return nil }
func (c *fakeChannel) Protocol() string           { return c.protocol }
func (c *fakeChannel) Close() error               { return nil }

func appRequest(verb commonv1.HTTPExtension_Verb, method, body string) *appchannel.Request {
	return &appchannel.Request{
		Message: &internalsv1.InternalInvokeRequest{Message: &commonv1.InvokeRequest{Method: method, HttpExtension: &commonv1.HTTPExtension{Verb: verb}}},
		Body:    bytes.NewReader([]byte(body)),
	}
}

func TestAppChannelHTTPClientMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	ch := m.WrapAppChannel(&fakeChannel{protocol: "http", code: 201, body: "created!"})
	resp, err := ch.Invoke(context.Background(), appRequest(commonv1.HTTPExtension_PUT, "orders/7", "12345"))
	if err != nil {
		t.Fatal(err)
	}
	if got := series(t, m, "dapr_http_client_completed_count"); len(got) != 0 {
		t.Errorf("recorded before the body was read: %v", got)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "created!" {
		t.Fatalf("body = %q", b)
	}
	_ = resp.Body.Close()
	failing := m.WrapAppChannel(&fakeChannel{protocol: "http", err: errors.New("connection refused")})
	if _, err := failing.Invoke(context.Background(), appRequest(commonv1.HTTPExtension_GET, "orders/8", "")); err == nil {
		t.Fatal("want the channel's error")
	}
	wantSeries(t, m, "dapr_http_client_completed_count", map[string]float64{
		"app_id=app1,method=PUT,path=/orders/7,status=201": 1,
		"app_id=app1,method=GET,path=/orders/8,status=":    1,
	})
	f := gather(t, m)
	if got := f["dapr_http_client_received_bytes"].GetMetric()[0].GetHistogram().GetSampleSum(); got != 8 {
		t.Errorf("received bytes = %v, want 8", got)
	}
	wantSeries(t, m, "dapr_http_client_sent_bytes", map[string]float64{
		"app_id=app1,method=PUT,path=/orders/7": 1,
		"app_id=app1,method=GET,path=/orders/8": 1,
	})
}

func TestAppChannelGRPCClientMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	ch := m.WrapAppChannel(&fakeChannel{protocol: "grpc", code: int32(codes.NotFound)})
	resp, err := ch.Invoke(context.Background(), appRequest(commonv1.HTTPExtension_NONE, "Say", "x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	wantSeries(t, m, "dapr_grpc_io_client_completed_rpcs", map[string]float64{
		"app_id=app1,grpc_client_method=/dapr.proto.runtime.v1.AppCallback/OnInvoke,grpc_client_status=NotFound": 1,
	})
}

func TestServerServesAndShutsDown(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	m.ComponentLoaded("state.in-memory")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Serve(m, ln, slog.New(slog.DiscardHandler))
	res, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := fams["dapr_runtime_component_loaded"].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("dapr_runtime_component_loaded = %v, want 1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/metrics"); err == nil {
		t.Error("server still answers after Shutdown")
	}
	var nilSrv *Server
	if err := nilSrv.Shutdown(ctx); err != nil {
		t.Errorf("nil server Shutdown: %v", err)
	}
}

func TestRecorderKeepsFlushAndUnwrap(t *testing.T) {
	m := newTest(t, resources.MetricSpec{})
	rec := httptest.NewRecorder()
	h := m.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("a"))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the recorder: %v", err)
		}
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if !rec.Flushed {
		t.Error("the underlying writer was not flushed")
	}
}

// fakeInvoker answers every call with the channel's answer.
type fakeInvoker struct{ ch *fakeChannel }

func (f fakeInvoker) Invoke(ctx context.Context, _ string, req *appchannel.Request) (*appchannel.Response, error) {
	return f.ch.Invoke(ctx, req)
}

func TestServiceInvocationMetrics(t *testing.T) {
	m := newTest(t, resources.MetricSpec{HTTP: &resources.MetricHTTP{PathMatching: []string{"/orders/{id}"}}})
	inv := m.WrapInvoker(fakeInvoker{&fakeChannel{protocol: "http", code: 200}})
	for _, id := range []string{"1", "2"} {
		if _, err := inv.Invoke(context.Background(), "b", appRequest(commonv1.HTTPExtension_GET, "orders/"+id, "")); err != nil {
			t.Fatal(err)
		}
	}
	failing := m.WrapInvoker(fakeInvoker{&fakeChannel{protocol: "http", err: errors.New("unreachable")}})
	_, _ = failing.Invoke(context.Background(), "c", appRequest(commonv1.HTTPExtension_GET, "ping", ""))

	callee := m.WrapCalleeChannel(&fakeChannel{protocol: "http", code: 404})
	req := appRequest(commonv1.HTTPExtension_GET, "orders/3", "")
	req.Message.Metadata = map[string]*internalsv1.ListStringValue{"dapr-caller-app-id": {Values: []string{"a"}}}
	if _, err := callee.Invoke(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	wantSeries(t, m, "dapr_runtime_service_invocation_req_sent_total", map[string]float64{
		"app_id=app1,destination_app_id=b,method=orders/{id}": 2,
		"app_id=app1,destination_app_id=c,method=ping":        1,
	})
	wantSeries(t, m, "dapr_runtime_service_invocation_res_recv_total", map[string]float64{
		"app_id=app1,method=orders/{id},source_app_id=b,status=200": 2,
		"app_id=app1,method=ping,source_app_id=c,status=500":        1,
	})
	wantSeries(t, m, "dapr_runtime_service_invocation_req_recv_total", map[string]float64{"app_id=app1,method=orders/{id},source_app_id=a": 1})
	wantSeries(t, m, "dapr_runtime_service_invocation_res_sent_total", map[string]float64{"app_id=app1,destination_app_id=a,method=orders/{id},status=404": 1})
	if m.WrapCalleeChannel(nil) != nil {
		t.Error("WrapCalleeChannel(nil) is not nil")
	}
}

// The invocation and app-channel series are cached by their raw label
// values; the Configuration's rules still apply, on every call.
func TestInvocationSeriesKeepRules(t *testing.T) {
	m := newTest(t, resources.MetricSpec{Rules: []resources.MetricsRule{
		{Name: "dapr_runtime_service_invocation_req_sent_total", Labels: []resources.MetricLabel{
			{Name: "destination_app_id", Regex: map[string]string{"tenant": "tenant-[0-9]+"}},
		}},
		{Name: "dapr_http_client_completed_count", Labels: []resources.MetricLabel{
			{Name: "path", Regex: map[string]string{"/orders/": "/orders/.+"}},
		}},
	}})
	inv := m.WrapInvoker(fakeInvoker{&fakeChannel{protocol: "http", code: 200}})
	ch := m.WrapAppChannel(&fakeChannel{protocol: "http", code: 200})
	for _, dest := range []string{"tenant-1", "tenant-2", "tenant-1"} {
		if _, err := inv.Invoke(context.Background(), dest, appRequest(commonv1.HTTPExtension_GET, "ping", "")); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"1", "2", "1"} {
		resp, err := ch.Invoke(context.Background(), appRequest(commonv1.HTTPExtension_GET, "orders/"+id, ""))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	wantSeries(t, m, "dapr_runtime_service_invocation_req_sent_total", map[string]float64{"app_id=app1,destination_app_id=tenant,method=ping": 3})
	wantSeries(t, m, "dapr_runtime_service_invocation_res_recv_total", map[string]float64{
		"app_id=app1,method=ping,source_app_id=tenant-1,status=200": 2,
		"app_id=app1,method=ping,source_app_id=tenant-2,status=200": 1,
	})
	wantSeries(t, m, "dapr_http_client_completed_count", map[string]float64{"app_id=app1,method=GET,path=/orders/,status=200": 3})
	wantSeries(t, m, "dapr_http_client_sent_bytes", map[string]float64{
		"app_id=app1,method=GET,path=/orders/1": 2,
		"app_id=app1,method=GET,path=/orders/2": 1,
	})
}
