// Package kubernetes is the "kubernetes" name resolver, the default in
// Kubernetes mode. It makes no API calls: every app's sidecar is reachable
// through the "<app-id>-dapr" Service that the injector creates, so the
// address follows from the app id and namespace alone.
package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

func init() {
	nameresolution.Registry.Register("kubernetes", func() nameresolution.Resolver { return &Resolver{} })
}

const (
	defaultClusterDomain = "cluster.local"
	defaultNamespace     = "default"
)

// Resolver builds "<id>-dapr.<namespace>.svc.<clusterDomain>:<port>", or
// the configured template.
type Resolver struct {
	clusterDomain string
	tmpl          *template.Template // nil: the default form
}

// Init reads clusterDomain and template.
func (r *Resolver) Init(_ context.Context, md nameresolution.Metadata) error {
	cfg := nameresolution.Config(md.Configuration)
	domain, err := cfg.String(defaultClusterDomain, "clusterDomain")
	if err != nil {
		return fmt.Errorf("kubernetes name resolution: %w", err)
	}
	r.clusterDomain = strings.Trim(strings.TrimSpace(domain), ".")
	if r.clusterDomain == "" {
		r.clusterDomain = defaultClusterDomain
	}
	text, err := cfg.String("", "template")
	if err != nil {
		return fmt.Errorf("kubernetes name resolution: %w", err)
	}
	if strings.TrimSpace(text) == "" {
		r.tmpl = nil
		return nil
	}
	tmpl, err := template.New("address").Option("missingkey=error").Parse(text)
	if err != nil {
		return fmt.Errorf("kubernetes name resolution: invalid template: %w", err)
	}
	// Run it once so a reference to an unknown field fails at startup rather
	// than on the first invocation.
	if _, err := execute(tmpl, nameresolution.Request{ID: "app", Namespace: defaultNamespace, Port: 50002}); err != nil {
		return fmt.Errorf("kubernetes name resolution: invalid template: %w", err)
	}
	r.tmpl = tmpl
	return nil
}

// Resolve returns the sidecar Service address of req.ID.
func (r *Resolver) Resolve(_ context.Context, req nameresolution.Request) (string, error) {
	if req.ID == "" {
		return "", errors.New("kubernetes name resolution: empty app id")
	}
	if req.Namespace == "" {
		req.Namespace = defaultNamespace
	}
	if r.tmpl != nil {
		addr, err := execute(r.tmpl, req)
		if err != nil {
			return "", fmt.Errorf("kubernetes name resolution of app id %q: %w", req.ID, err)
		}
		return addr, nil
	}
	if req.Port <= 0 {
		return "", fmt.Errorf("kubernetes name resolution of app id %q: no port in the request", req.ID)
	}
	return fmt.Sprintf("%s-dapr.%s.svc.%s:%d", req.ID, req.Namespace, r.clusterDomain, req.Port), nil
}

// Close has nothing to release.
func (r *Resolver) Close() error { return nil }

func execute(tmpl *template.Template, req nameresolution.Request) (string, error) {
	var b strings.Builder
	if err := tmpl.Execute(&b, req); err != nil {
		return "", err
	}
	addr := strings.TrimSpace(b.String())
	if addr == "" {
		return "", errors.New("template produced an empty address")
	}
	return addr, nil
}
