package sidecar

import (
	"context"
	"log/slog"

	"github.com/outrigger/outrigger/internal/middleware"
	"github.com/outrigger/outrigger/internal/registry"
	"github.com/outrigger/outrigger/internal/resources"
)

// loadMiddleware initialises an HTTP middleware component
// (middleware.http.*); pipelines pick it up by name, type and version.
func (l *loaded) loadMiddleware(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	m, err := middleware.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	if err := initWithTimeout(ctx, c, func(ctx context.Context) error {
		return m.Init(ctx, middleware.Metadata{Name: c.Name(), Properties: props})
	}); err != nil {
		_ = m.Close()
		return err
	}
	version := registry.NormalizeVersion(c.Spec.Version)
	l.middlewares = append(l.middlewares, &middleware.Component{Name: c.Name(), Type: c.Spec.Type, Version: version, Middleware: m})
	l.register(c, version, nil, m.Close)
	env.log.Info("component loaded", "name", c.Name(), "type", c.Spec.Type, "version", version)
	return nil
}

// pipelines are the Configuration's HTTP middleware chains.
type pipelines struct {
	api middleware.Pipeline // httpPipeline: around the Dapr HTTP API
	app middleware.Pipeline // appHttpPipeline: around HTTP calls to the app
}

// buildPipelines resolves httpPipeline and appHttpPipeline; a handler that
// names no loaded middleware component fails startup.
func buildPipelines(cfg *resources.Configuration, comps *loaded, log *slog.Logger) (pipelines, error) {
	var p pipelines
	var err error
	if p.api, err = middleware.Build("httpPipeline", cfg.Spec.HTTPPipeline, comps.middlewares); err != nil {
		return pipelines{}, err
	}
	if p.app, err = middleware.Build("appHttpPipeline", cfg.Spec.AppHTTPPipeline, comps.middlewares); err != nil {
		return pipelines{}, err
	}
	if !p.api.Empty() {
		log.Info("HTTP API middleware pipeline", "handlers", p.api.Names())
	}
	if !p.app.Empty() {
		log.Info("app channel middleware pipeline", "handlers", p.app.Names())
	}
	return p, nil
}
