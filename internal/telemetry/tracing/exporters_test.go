package tracing

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/resources"
)

// otlpGRPC is an in-process OTLP/gRPC trace service.
type otlpGRPC struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (o *otlpGRPC) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.names = append(o.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// export starts and ends one span, then shuts the provider down, which
// must flush it.
func export(t *testing.T, cfg Config, name string) {
	t.Helper()
	p, err := New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("provider disabled")
	}
	_, span := p.Start(context.Background(), name, trace.SpanKindServer)
	span.End()
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestOTLPGRPCExporterFlushesOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	recv := &otlpGRPC{}
	coltracepb.RegisterTraceServiceServer(srv, recv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	export(t, Config{ServiceName: "a", SamplingRate: 1, OTLP: OTLPConfig{Endpoint: ln.Addr().String(), Protocol: "grpc", Insecure: true}}, "grpc-span")
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.names) != 1 || recv.names[0] != "grpc-span" {
		t.Errorf("collector got %v", recv.names)
	}
}

func TestZipkinExporterFlushesOnShutdown(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var spans []map[string]any
		_ = json.Unmarshal(b, &spans)
		mu.Lock()
		got = append(got, spans...)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	export(t, Config{ServiceName: "a", SamplingRate: 1, ZipkinEndpoint: srv.URL + "/api/v2/spans"}, "zipkin-span")
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0]["name"] != "zipkin-span" {
		t.Errorf("zipkin got %v", got)
	}
}

func TestStdoutExporter(t *testing.T) {
	var b strings.Builder
	export(t, Config{SamplingRate: 1, Stdout: true, StdoutWriter: &b}, "stdout-span")
	if !strings.Contains(b.String(), `"stdout-span"`) {
		t.Errorf("stdout exporter wrote %q", b.String())
	}
}

func TestFromConfiguration(t *testing.T) {
	no := false
	cfg := &resources.Configuration{}
	cfg.Spec.Tracing = resources.TracingSpec{
		SamplingRate: "0.5",
		Zipkin:       resources.ZipkinSpec{EndpointAddress: "http://z/api/v2/spans"},
		Otel:         resources.OtelSpec{EndpointAddress: "collector:4317", Protocol: "GRPC", IsSecure: &no, Headers: map[string]string{"k": "v"}, Timeout: "2500"},
	}
	got, err := FromConfiguration(cfg, "app", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.ServiceName != "app" || got.SamplingRate != 0.5 || got.ZipkinEndpoint != "http://z/api/v2/spans" ||
		got.OTLP.Endpoint != "collector:4317" || got.OTLP.Protocol != "grpc" || !got.OTLP.Insecure ||
		got.OTLP.Headers["k"] != "v" || got.OTLP.Timeout.Milliseconds() != 2500 || got.OTLP.FromEnv {
		t.Errorf("config %+v", got)
	}

	env, err := FromConfiguration(&resources.Configuration{}, "app", "http://otel:4317", "grpc")
	if err != nil {
		t.Fatal(err)
	}
	if !env.OTLP.FromEnv || env.OTLP.Protocol != "grpc" || env.SamplingRate != resources.DefaultSamplingRate {
		t.Errorf("env config %+v", env)
	}
}
