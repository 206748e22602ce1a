package api

import (
	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/secretstores"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// secretStore looks up a secret store by name, with Dapr's two lookup
// errors.
func (c *Core) secretStore(name string) (*secretstores.Component, error) {
	secrets := c.comps().secrets
	if len(secrets) == 0 {
		return nil, apierr.SecretStoresNotConfigured()
	}
	s, ok := secrets[name]
	if !ok {
		return nil, apierr.SecretStoreNotFound(name)
	}
	return s, nil
}

// secretAllowed applies Configuration spec.secrets.scopes.
func (c *Core) secretAllowed(store, key string) bool {
	return c.secretScopes == nil || c.secretScopes(store, key)
}

// GetSecret reads one secret, subject to the secret scopes.
func (c *Core) GetSecret(ctx context.Context, req *runtimev1.GetSecretRequest) (*runtimev1.GetSecretResponse, error) {
	s, err := c.secretStore(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	if !c.secretAllowed(s.Name, req.GetKey()) {
		return nil, apierr.SecretPermissionDenied(req.GetKey(), s.Name)
	}
	var data map[string]string
	err = c.measured(s.Name, resiliency.Secretstore, metrics.OpGet).Run(ctx, func(ctx context.Context) (err error) {
		data, err = s.Store.GetSecret(ctx, req.GetKey(), req.GetMetadata())
		return err
	})
	if err != nil {
		return nil, apierr.SecretGet(req.GetKey(), s.Name, err)
	}
	return &runtimev1.GetSecretResponse{Data: data}, nil
}

// GetBulkSecret reads every secret of a store. Secrets the scopes forbid
// are left out silently, as in Dapr.
func (c *Core) GetBulkSecret(ctx context.Context, req *runtimev1.GetBulkSecretRequest) (*runtimev1.GetBulkSecretResponse, error) {
	s, err := c.secretStore(req.GetStoreName())
	if err != nil {
		return nil, err
	}
	var all map[string]map[string]string
	err = c.measured(s.Name, resiliency.Secretstore, metrics.OpBulkGet).Run(ctx, func(ctx context.Context) (err error) {
		all, err = s.Store.BulkGetSecret(ctx, req.GetMetadata())
		return err
	})
	if err != nil {
		return nil, apierr.SecretBulkGet(s.Name, err)
	}
	out := &runtimev1.GetBulkSecretResponse{Data: make(map[string]*runtimev1.SecretResponse, len(all))}
	for name, data := range all {
		if c.secretAllowed(s.Name, name) {
			out.Data[name] = &runtimev1.SecretResponse{Secrets: data}
		}
	}
	return out, nil
}
