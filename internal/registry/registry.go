// Package registry maps component type names ("state.redis") and versions to
// constructors, like database/sql drivers. Each building block keeps one
// Registry for its kind; the binary decides which implementations it links.
package registry

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry holds the constructors of one component kind.
type Registry[T any] struct {
	kind string
	mu   sync.RWMutex
	ctor map[string]map[string]func() T // type -> version -> constructor
}

// New returns an empty registry for a kind ("state", "pubsub", ...).
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, ctor: map[string]map[string]func() T{}}
}

// Register adds a constructor for a type under one or more versions. No
// versions means "v1". Registering the same type and version twice panics:
// it is a programming error in the binary's wiring.
func (r *Registry[T]) Register(typeName string, ctor func() T, versions ...string) {
	if len(versions) == 0 {
		versions = []string{"v1"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	typeName = strings.ToLower(typeName)
	if r.ctor[typeName] == nil {
		r.ctor[typeName] = map[string]func() T{}
	}
	for _, v := range versions {
		v = NormalizeVersion(v)
		if _, dup := r.ctor[typeName][v]; dup {
			panic(fmt.Sprintf("registry: %s %s/%s registered twice", r.kind, typeName, v))
		}
		r.ctor[typeName][v] = ctor
	}
}

// NormalizeVersion treats "", "v0" and "v1" as the initial version, as Dapr does.
func NormalizeVersion(v string) string {
	switch strings.ToLower(v) {
	case "", "v0", "v1":
		return "v1"
	default:
		return strings.ToLower(v)
	}
}

// Create builds a new instance. The error for an unknown type lists the
// known ones, and for an unknown version the known versions of that type.
func (r *Registry[T]) Create(typeName, version string) (T, error) {
	var zero T
	r.mu.RLock()
	defer r.mu.RUnlock()
	versions, ok := r.ctor[strings.ToLower(typeName)]
	if !ok {
		return zero, fmt.Errorf("unknown %s component type %q (known types: %s)", r.kind, typeName, strings.Join(r.typesLocked(), ", "))
	}
	ctor, ok := versions[NormalizeVersion(version)]
	if !ok {
		known := make([]string, 0, len(versions))
		for v := range versions {
			known = append(known, v)
		}
		sort.Strings(known)
		return zero, fmt.Errorf("%s component type %q has no version %q (known versions: %s)", r.kind, typeName, version, strings.Join(known, ", "))
	}
	return ctor(), nil
}

// Types lists the registered type names, sorted.
func (r *Registry[T]) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.typesLocked()
}

func (r *Registry[T]) typesLocked() []string {
	out := make([]string, 0, len(r.ctor))
	for t := range r.ctor {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
