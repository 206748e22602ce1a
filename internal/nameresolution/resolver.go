// Package nameresolution finds the internal gRPC address of another
// sidecar from its app id. Implementations live in subpackages and register
// themselves in Registry under Dapr's component names (mdns, sqlite,
// kubernetes, ...).
package nameresolution

import (
	"context"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the resolver constructors linked into the binary.
var Registry = registry.New[Resolver]("nameresolution")

// Instance describes this sidecar, for resolvers that register it (mDNS,
// SQLite) so others can find it.
type Instance struct {
	AppID            string
	Namespace        string
	HostAddress      string // the address other sidecars dial
	DaprInternalPort int
	DaprHTTPPort     int
	DaprGRPCPort     int
	AppPort          int
}

// Metadata initialises a resolver: Configuration spec.nameResolution
// .configuration (free-form) plus this sidecar's own instance.
type Metadata struct {
	Configuration map[string]any
	Instance      Instance
}

// Request asks for an app's sidecar.
type Request struct {
	ID        string
	Namespace string
	Port      int // the caller's own internal port, a hint for DNS-style resolvers
}

// Resolver turns an app id into "host:port" of that app's sidecar internal
// gRPC server. With several instances of one app id, Resolve spreads calls
// across them. Resolve must be cheap on the hot path (cache with expiry).
type Resolver interface {
	Init(ctx context.Context, md Metadata) error
	Resolve(ctx context.Context, req Request) (string, error)
	Close() error
}
