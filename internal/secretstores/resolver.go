package secretstores

import (
	"context"
	"errors"
	"fmt"

	"github.com/outrigger/outrigger/internal/resources"
)

// ErrStoreNotLoaded is wrapped when a secretKeyRef names a secret store
// that is not (or not yet) loaded; the loader may retry the component once
// more stores are up, as Dapr defers such components.
var ErrStoreNotLoaded = errors.New("secret store is not loaded")

// errNoDefaultStore: standalone Dapr has no default secret store, so a
// secretKeyRef without auth.secretStore cannot be resolved.
var errNoDefaultStore = errors.New("no secret store given: set auth.secretStore on the resource " +
	"(there is no default secret store outside Kubernetes)")

// Resolver resolves component secretKeyRefs against the loaded secret
// stores. storeName "" means defaultStore ("kubernetes" in Kubernetes
// mode, "" in standalone mode, where it is an error). The value is
// data[key], or data[secretName] when key is empty. The map is read on
// every call, so stores added later are seen; callers must not change it
// while a resolution runs. Configuration secret scopes do not apply here,
// as in Dapr: they govern the app's API, not the sidecar's own lookups.
func Resolver(stores map[string]*Component, defaultStore string) resources.SecretResolver {
	return func(ctx context.Context, storeName, secretName, key string) (string, error) {
		if storeName == "" {
			storeName = defaultStore
		}
		if storeName == "" {
			return "", errNoDefaultStore
		}
		c, ok := stores[storeName]
		if !ok || c == nil || c.Store == nil {
			return "", fmt.Errorf("secret store %q: %w", storeName, ErrStoreNotLoaded)
		}
		if key == "" {
			key = secretName
		}
		data, err := c.Store.GetSecret(ctx, secretName, nil)
		if err != nil {
			return "", fmt.Errorf("secret store %q: get secret %q: %w", storeName, secretName, err)
		}
		v, ok := data[key]
		if !ok {
			return "", fmt.Errorf("secret store %q: secret %q has no key %q", storeName, secretName, key)
		}
		return v, nil
	}
}
