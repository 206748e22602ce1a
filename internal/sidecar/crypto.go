package sidecar

import (
	"context"

	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/registry"
	"github.com/outrigger/outrigger/internal/resources"
)

// loadCrypto initialises a crypto provider (crypto.* component).
func (l *loaded) loadCrypto(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	p, err := crypto.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	if err := initWithTimeout(ctx, c, func(ctx context.Context) error {
		return p.Init(ctx, crypto.Metadata{Name: c.Name(), Properties: props})
	}); err != nil {
		_ = p.Close()
		return err
	}
	version := registry.NormalizeVersion(c.Spec.Version)
	l.cryptos = append(l.cryptos, &crypto.Component{Name: c.Name(), Type: c.Spec.Type, Version: version, Provider: p})
	l.register(c, version, nil, p.Close)
	env.log.Info("component loaded", "name", c.Name(), "type", c.Spec.Type, "version", version)
	return nil
}
