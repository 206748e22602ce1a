package sidecar

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/outrigger/outrigger/internal/options"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// startMetrics builds the metrics recorder from --enable-metrics and the
// Configuration and serves it on --metrics-listen-address:--metrics-port.
// With metrics off it returns a nil recorder and server (both no-ops) and
// opens no port, as daprd does.
func startMetrics(ctx context.Context, opts options.Options, cfg *resources.Configuration, log *slog.Logger) (*metrics.Metrics, *metrics.Server, error) {
	mt, err := metrics.New(metrics.Options{
		AppID: opts.AppID, Namespace: namespaceOrDefault(opts.Namespace), Enabled: opts.EnableMetrics,
	}, cfg.MetricsSpec())
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	if mt == nil {
		return nil, nil, nil
	}
	lns, err := listenAll(ctx, []string{opts.MetricsListenAddress}, opts.MetricsPort)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics server: %w", err)
	}
	return mt, metrics.Serve(mt, lns[0], log), nil
}

// stopMetrics stops the metrics server last, so scrapes see the shutdown.
func stopMetrics(srv *metrics.Server, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("metrics server did not stop cleanly", "error", err)
	}
}

// measuredInbound wraps an inbound delivery runner (input bindings) so
// each delivery is recorded by record.
func measuredInbound(mt *metrics.Metrics, run func(ctx context.Context, name string, op func(context.Context) error) error,
	record func(name string, err error, start time.Time)) func(ctx context.Context, name string, op func(context.Context) error) error {
	if mt == nil {
		return run
	}
	return func(ctx context.Context, name string, op func(context.Context) error) error {
		start := mt.Start()
		err := run(ctx, name, op)
		record(name, err, start)
		return err
	}
}
