package sidecar

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/tracing"
)

// startTracing builds the tracer provider from spec.tracing. The standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable enables OTLP export too, as in Dapr.
func startTracing(ctx context.Context, opts options.Options, cfg *resources.Configuration, log *slog.Logger) (*tracing.Provider, error) {
	tc, err := tracing.FromConfiguration(cfg, opts.AppID, os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if err != nil {
		return nil, err
	}
	return tracing.New(ctx, tc, log)
}

// stopTracing flushes the spans still buffered, after everything that
// records them has stopped.
func stopTracing(tr *tracing.Provider, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), max(grace, time.Second))
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("traces were not all exported", "error", err)
	}
}
