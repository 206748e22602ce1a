// Package grpcproxy proxies calls to services daprd does not implement
// itself: an app calls its own sidecar with metadata dapr-app-id, the
// sidecar forwards the raw frames to the target sidecar's internal port, and
// that sidecar forwards them to its app's gRPC server (grpc-api.md §4).
// Messages are never decoded, so any service and streaming kind works.
package grpcproxy

import (
	"context"

	"google.golang.org/grpc"

	"github.com/outrigger/outrigger/internal/resiliency"
)

// Side says which server the handler is installed on.
type Side int

const (
	// Caller is the API server (--dapr-grpc-port): the app's own calls,
	// forwarded to the target sidecar or, for its own id, to the local app.
	Caller Side = iota
	// Callee is the internal server (--dapr-internal-grpc-port): calls from
	// other sidecars, forwarded to the local app.
	Callee
)

// Metadata keys the proxy reads or writes.
const (
	keyAppID           = "dapr-app-id"
	keyCalleeAppID     = "dapr-callee-app-id"
	keyCallerAppID     = "dapr-caller-app-id"
	keyCallerNamespace = "dapr-caller-namespace"
	keyAPIToken        = "dapr-api-token"
)

// Config configures a proxy handler.
type Config struct {
	AppID     string
	Namespace string
	Side      Side
	// Target returns a connection to the internal gRPC port of the sidecar
	// hosting appID (which may be "app" or "app.namespace"); self reports
	// that appID is this app. Used on the Caller side only.
	Target func(ctx context.Context, appID string) (conn *grpc.ClientConn, self bool, err error)
	// LocalApp returns the connection to the local app's gRPC server, nil
	// when there is none (HTTP app, or no app).
	LocalApp func() *grpc.ClientConn
	// AppAPIToken is sent to the local app as dapr-api-token when set.
	AppAPIToken string
	// Healthy, when set, gates calls to the local app.
	Healthy func() bool
	// Policy, when set, returns the resiliency policy of calls to appID
	// (its apps target, else the default app policies). As in Dapr it
	// applies on the Caller side to calls forwarded to another app's
	// sidecar only, never to calls into the local app (see resiliency.go).
	Policy func(appID string) resiliency.Policy
}

// Handler returns the stream handler to install with
// grpc.UnknownServiceHandler. The server must also use the raw codec: use
// ServerOptions, which installs both.
func Handler(cfg Config) grpc.StreamHandler {
	p := &proxy{cfg: cfg}
	return p.handle
}

// ServerOptions returns the options that make a server proxy unknown
// services: the unknown-service handler and a codec that passes raw frames
// through (and encodes everything else as proto, so registered services keep
// working). grpc offers no way to bundle two options into one ServerOption,
// hence the slice.
func ServerOptions(cfg Config) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.UnknownServiceHandler(Handler(cfg)),
		grpc.ForceServerCodecV2(rawCodec{}),
	}
}
