package state

import (
	"context"
	"fmt"
	"strings"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the state store constructors linked into the binary.
var Registry = registry.New[Store]("state")

// Component is a loaded, initialised state store as the building block sees
// it: the store plus its name, type, key scheme and capabilities.
type Component struct {
	Name    string
	Type    string // e.g. "state.redis"
	Version string
	Store   Store
	Keys    KeyScheme
	// ActorStore marks the store chosen with actorStateStore: "true".
	ActorStore bool

	features []Feature
}

// NewComponent wraps an initialised store.
func NewComponent(name, typ, version string, store Store, keys KeyScheme, actorStore bool) *Component {
	return &Component{Name: name, Type: typ, Version: version, Store: store, Keys: keys, ActorStore: actorStore, features: store.Features()}
}

// Features returns the store's capabilities.
func (c *Component) Features() []Feature { return c.features }

// Capabilities returns the feature names for the metadata API, with ACTOR
// added when the store can back actors (ETAG and TRANSACTIONAL).
func (c *Component) Capabilities() []string {
	out := make([]string, 0, len(c.features)+1)
	for _, f := range c.features {
		out = append(out, string(f))
	}
	if HasFeature(c.features, FeatureETag) && HasFeature(c.features, FeatureTransactional) {
		out = append(out, string(FeatureActor))
	}
	return out
}

// Has reports whether the store supports f.
func (c *Component) Has(f Feature) bool { return HasFeature(c.features, f) }

// Open creates and initialises a store from the registry.
func Open(ctx context.Context, typ, version string, md Metadata) (Store, error) {
	s, err := Registry.Create(typ, version)
	if err != nil {
		return nil, err
	}
	if err := s.Init(ctx, md); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("init %s %q: %w", typ, md.Name, err)
	}
	return s, nil
}

// IsTruthy reports whether a metadata value means true, as Dapr reads flags
// like actorStateStore.
func IsTruthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "y", "on":
		return true
	}
	return false
}
