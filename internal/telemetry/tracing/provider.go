// Package tracing is distributed tracing for the sidecar: an OpenTelemetry
// tracer provider built from the Configuration's spec.tracing, W3C
// traceparent/tracestate and grpc-trace-bin propagation, and the spans
// Dapr records (API calls, service invocation, pub/sub, bindings, actors).
//
// A disabled Provider (no exporter, or samplingRate "0") records nothing
// and allocates no spans, but still passes an incoming trace context on to
// downstream calls unchanged, as daprd does without a tracer.
//
// A nil *Provider is a valid disabled provider.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	//lint:ignore SA1019 Dapr's Configuration still offers spec.tracing.zipkin; the exporter works until it is removed.
	"go.opentelemetry.io/otel/exporters/zipkin"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/outrigger/outrigger/internal/resources"
)

// tracerName identifies the instrumentation in exported spans.
const tracerName = "github.com/outrigger/outrigger"

// Config selects the exporters and the sampling rate.
type Config struct {
	// ServiceName is reported as service.name (the app id, as in Dapr).
	ServiceName string
	// SamplingRate is the fraction of new traces recorded, 0..1; 0
	// disables tracing. Traces started by a sampled caller are always
	// recorded (parent-based sampling).
	SamplingRate float64
	// Stdout writes every span to StdoutWriter (os.Stdout when nil).
	Stdout       bool
	StdoutWriter io.Writer
	// ZipkinEndpoint is the Zipkin collector URL, e.g.
	// http://localhost:9411/api/v2/spans.
	ZipkinEndpoint string
	OTLP           OTLPConfig
}

// OTLPConfig configures the OTLP exporter.
type OTLPConfig struct {
	// Endpoint is host:port (or a URL). Empty disables the exporter unless
	// FromEnv is set.
	Endpoint string
	// Protocol is "grpc" or "http" (empty: http).
	Protocol string
	Insecure bool
	Headers  map[string]string
	Timeout  time.Duration
	// FromEnv lets the exporter take its settings from the standard
	// OTEL_EXPORTER_OTLP_* variables (set when OTEL_EXPORTER_OTLP_ENDPOINT
	// is, which enables tracing in Dapr).
	FromEnv bool
}

// FromConfiguration reads spec.tracing. otlpEnvEndpoint is the value of
// OTEL_EXPORTER_OTLP_ENDPOINT (the composition root reads the environment)
// and otlpEnvProtocol that of OTEL_EXPORTER_OTLP_PROTOCOL.
func FromConfiguration(cfg *resources.Configuration, appID, otlpEnvEndpoint, otlpEnvProtocol string) (Config, error) {
	t := cfg.Spec.Tracing
	out := Config{
		ServiceName:    appID,
		SamplingRate:   cfg.SamplingRate(),
		Stdout:         t.Stdout,
		ZipkinEndpoint: t.Zipkin.EndpointAddress,
		OTLP: OTLPConfig{
			Endpoint: t.Otel.EndpointAddress,
			Protocol: strings.ToLower(t.Otel.Protocol),
			Insecure: !t.Otel.Secure(),
			Headers:  t.Otel.Headers,
		},
	}
	if t.Otel.Timeout != "" {
		d, err := t.Otel.Timeout.Parse()
		if err != nil {
			return Config{}, fmt.Errorf("spec.tracing.otel.timeout: %w", err)
		}
		out.OTLP.Timeout = d
	}
	if out.OTLP.Endpoint == "" && otlpEnvEndpoint != "" {
		out.OTLP.FromEnv = true
		if strings.HasPrefix(strings.ToLower(otlpEnvProtocol), "grpc") {
			out.OTLP.Protocol = "grpc"
		}
	}
	return out, nil
}

// Provider starts spans. Its methods are safe for concurrent use.
type Provider struct {
	tp     *sdktrace.TracerProvider // nil when disabled
	tracer trace.Tracer
}

// New builds the provider and its exporters. It is disabled (and New
// cheap) when the sampling rate is 0 or there is no exporter: spans that
// go nowhere are not worth recording.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Provider, error) {
	if cfg.SamplingRate <= 0 {
		return &Provider{}, nil
	}
	exporters, err := newExporters(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if len(exporters) == 0 {
		return &Provider{}, nil
	}
	procs := make([]sdktrace.SpanProcessor, len(exporters))
	for i, e := range exporters {
		procs[i] = sdktrace.NewBatchSpanProcessor(e)
	}
	if log != nil {
		log.Info("tracing enabled", "sampling_rate", cfg.SamplingRate, "exporters", len(exporters))
	}
	return newProvider(cfg.ServiceName, cfg.SamplingRate, procs...), nil
}

// newProvider builds an enabled provider that hands finished spans to
// procs. Traces are sampled at rate unless the caller's trace was
// (parent-based), as in Dapr.
func newProvider(service string, rate float64, procs ...sdktrace.SpanProcessor) *Provider {
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(min(rate, 1)))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	}
	for _, p := range procs {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Provider{tp: tp, tracer: tp.Tracer(tracerName)}
}

// newExporters builds the configured exporters.
func newExporters(ctx context.Context, cfg Config) ([]sdktrace.SpanExporter, error) {
	var out []sdktrace.SpanExporter
	if cfg.Stdout {
		w := cfg.StdoutWriter
		if w == nil {
			w = os.Stdout
		}
		e, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("stdout trace exporter: %w", err)
		}
		out = append(out, e)
	}
	if cfg.ZipkinEndpoint != "" {
		e, err := zipkin.New(cfg.ZipkinEndpoint)
		if err != nil {
			return nil, fmt.Errorf("zipkin trace exporter: %w", err)
		}
		out = append(out, e)
	}
	if cfg.OTLP.Endpoint != "" || cfg.OTLP.FromEnv {
		e, err := newOTLP(ctx, cfg.OTLP)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// newOTLP builds the OTLP exporter. Connections are made lazily, so an
// unreachable collector does not stop the sidecar.
func newOTLP(ctx context.Context, c OTLPConfig) (sdktrace.SpanExporter, error) {
	isURL := strings.Contains(c.Endpoint, "://")
	if c.Protocol == "grpc" {
		var opts []otlptracegrpc.Option
		switch {
		case isURL:
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		case c.Endpoint != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
		}
		if c.Insecure && c.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
		}
		if c.Timeout > 0 {
			opts = append(opts, otlptracegrpc.WithTimeout(c.Timeout))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	switch {
	case isURL:
		opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint))
	case c.Endpoint != "":
		opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
	}
	if c.Insecure && c.Endpoint != "" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if len(c.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
	}
	if c.Timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(c.Timeout))
	}
	return otlptracehttp.New(ctx, opts...)
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.tp != nil }

// Shutdown flushes the spans still buffered and stops the exporters.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.tp.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flushing traces: %w", err)
	}
	return nil
}

// Start starts a span named name as a child of the span (or remote trace
// context) in ctx. A disabled provider starts nothing: it returns ctx and
// the span already there, so ending it is a no-op and the incoming trace
// context flows on. Add attributes only when span.IsRecording().
func (p *Provider) Start(ctx context.Context, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if !p.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return p.tracer.Start(ctx, name, trace.WithSpanKind(kind))
}

// StartRemote is Start with sc (typically read from a message) as the
// parent; an invalid sc starts a new trace.
func (p *Provider) StartRemote(ctx context.Context, sc trace.SpanContext, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	return p.Start(ContextWithRemote(ctx, sc), name, kind)
}
