// Package appchannel calls into the application: service invocation (and,
// later, event deliveries) over HTTP (http, https, h2c) or gRPC (grpc,
// grpcs), with --app-max-concurrency, APP_API_TOKEN and app health checks.
package appchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc"
)

// Request is one invocation on its way to an app, in Dapr's internal wire
// form plus a streamed body. Message.Message carries the method, content
// type and HTTP extension (verb, query string); Message.Metadata carries the
// headers (HTTP) or metadata (gRPC) to forward. Message.Message.Data is not
// used: the body travels in Body so large payloads stream.
type Request struct {
	Message *internalsv1.InternalInvokeRequest
	Body    io.Reader // nil means empty
	// SidecarHeaders are set by the sidecar itself (e.g. dapr-app-id on
	// GET /dapr/subscribe) and are applied after the caller's headers are
	// filtered, so they reach the app even where a caller's would not.
	SidecarHeaders map[string]string
}

// Response is the app's answer. Message.Status.Code is the HTTP status for
// HTTP apps and the gRPC code for gRPC apps; Message.Headers and
// Message.Trailers carry response headers/trailers; Message.Message carries
// the content type. The receiver must close Body.
type Response struct {
	Message *internalsv1.InternalInvokeResponse
	Body    io.ReadCloser
}

// Channel is a connection to the app.
type Channel interface {
	// Invoke calls the app. A non-nil error means the app could not be
	// reached or the call was cut off; an app that answers with an error
	// status is a successful Invoke with that status.
	Invoke(ctx context.Context, req *Request) (*Response, error)
	// GRPCConn is a connection to the app's own gRPC server, used to proxy
	// gRPC calls; nil when the app speaks HTTP.
	GRPCConn() *grpc.ClientConn
	// Protocol is the app protocol: http, https, h2c, grpc or grpcs.
	Protocol() string
	Close() error
}

// Config describes how to reach the app.
type Config struct {
	// Protocol is http, https, h2c, grpc or grpcs (case-insensitive; empty
	// means http).
	Protocol string
	// Address is the host to dial (--app-channel-address); empty means
	// 127.0.0.1.
	Address string
	// Port is the app port; it must be positive.
	Port int
	// MaxConcurrency caps in-flight calls to the app; <=0 means unlimited.
	MaxConcurrency int
	// AppAPIToken, when set, is sent as dapr-api-token on every call except
	// the HTTP health probe.
	AppAPIToken string
	// MaxResponseBodySize caps the app's response body (and, for gRPC apps,
	// the request body too); <=0 means unlimited.
	MaxResponseBodySize int64
	// DialTimeout bounds connecting to the app; <=0 means 5s.
	DialTimeout time.Duration
	// HTTPPipeline wraps calls to an HTTP app in the Configuration's
	// appHttpPipeline middleware; nil means none (ignored for gRPC apps).
	HTTPPipeline func(http.Handler) http.Handler
}

// ErrBodyTooLarge is returned when a body exceeds MaxResponseBodySize.
var ErrBodyTooLarge = errors.New("body exceeds the maximum allowed size")

const defaultDialTimeout = 5 * time.Second

// New builds the channel for cfg.Protocol. It does not dial: the app may not
// be listening yet (see WaitForPort).
func New(ctx context.Context, cfg Config) (Channel, error) {
	proto := strings.ToLower(cfg.Protocol)
	if proto == "" {
		proto = "http"
	}
	if cfg.Port <= 0 {
		return nil, fmt.Errorf("app channel: invalid app port %d", cfg.Port)
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	cfg.Protocol = proto
	switch proto {
	case "http", "https", "h2c":
		return newHTTPChannel(cfg), nil
	case "grpc", "grpcs":
		return newGRPCChannel(ctx, cfg)
	default:
		return nil, fmt.Errorf("app channel: unsupported app protocol %q", cfg.Protocol)
	}
}
