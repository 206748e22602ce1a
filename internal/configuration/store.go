// Package configuration is the configuration building block: the contract
// configuration store components implement, and the implementations in
// subpackages.
package configuration

import (
	"context"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the configuration store constructors linked into the binary.
var Registry = registry.New[Store]("configuration")

// Metadata initialises a store: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// Item is one configuration value.
type Item struct {
	Value    string
	Version  string
	Metadata map[string]string
}

// UpdateHandler receives changed items of a subscription.
type UpdateHandler func(ctx context.Context, id string, items map[string]*Item) error

// Store reads configuration and reports changes.
type Store interface {
	Init(ctx context.Context, md Metadata) error
	// Get returns the items for keys (every item when keys is empty);
	// missing keys are absent from the result.
	Get(ctx context.Context, keys []string, md map[string]string) (map[string]*Item, error)
	// Subscribe calls handler with changed items of keys (all keys when
	// empty) until Unsubscribe(id) or Close. It returns the subscription id.
	Subscribe(ctx context.Context, keys []string, md map[string]string, handler UpdateHandler) (string, error)
	Unsubscribe(ctx context.Context, id string) error
	Close() error
}

// Component is a loaded configuration store.
type Component struct {
	Name, Type, Version string
	Store               Store
}
