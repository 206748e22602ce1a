// Package secretstores is the secrets building block: the contract secret
// store components implement, and (in subpackages) the implementations.
package secretstores

import (
	"context"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the secret store constructors linked into the binary.
var Registry = registry.New[Store]("secretstores")

// Feature is a capability name advertised in the metadata API.
type Feature string

// FeatureMultipleKeyValues: one secret holds several key/value pairs.
const FeatureMultipleKeyValues Feature = "MULTIPLE_KEY_VALUES_PER_SECRET"

// Metadata initialises a store: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
	// Namespace is the sidecar's namespace (NAMESPACE), "" when unset.
	// Stores that scope secrets by namespace fall back to it.
	Namespace string
}

// Store reads secrets. Implementations are safe for concurrent use.
type Store interface {
	Init(ctx context.Context, md Metadata) error
	Features() []Feature
	// GetSecret returns the key/value pairs of one secret; a missing secret
	// is an error wrapping ErrNotFound.
	GetSecret(ctx context.Context, name string, md map[string]string) (map[string]string, error)
	// BulkGetSecret returns every secret: name → key/value pairs.
	BulkGetSecret(ctx context.Context, md map[string]string) (map[string]map[string]string, error)
	Close() error
}

// Component is a loaded secret store.
type Component struct {
	Name, Type, Version string
	Store               Store
}
