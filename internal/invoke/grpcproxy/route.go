package grpcproxy

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

type proxy struct {
	cfg Config
}

func (p *proxy) handle(_ any, in grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(in)
	if !ok {
		return status.Error(codes.Internal, "failed to proxy request: method name not found in stream")
	}
	ctx := in.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	conn, out, local, err := p.route(ctx, md)
	if err != nil {
		return err
	}
	pol := p.policyFor(targetID(md), local)
	if pol.IsZero() {
		return forward(ctx, in, conn, method, out)
	}
	c := &proxied{p: p, in: in, method: method, md: md, conn: conn, out: out}
	switch {
	case isStream(md):
		return c.stream(pol)
	case pol.HasRetries():
		return c.replay(pol)
	default:
		return c.whole(pol)
	}
}

// route picks the connection to forward on and the metadata to send;
// local reports a call to this sidecar's own app.
func (p *proxy) route(ctx context.Context, md metadata.MD) (conn *grpc.ClientConn, out metadata.MD, local bool, err error) {
	target := targetID(md)
	if target == "" {
		// Dapr returns a plain error here, which grpc reports as Unknown;
		// worded as daprd 1.18.3 words it.
		return nil, nil, false, status.Error(codes.Unknown,
			"cannot proxy request: missing "+keyCalleeAppID+" or "+keyAppID+" metadata")
	}
	if p.isSelf(target) {
		conn, out, err = p.local(md)
		return conn, out, true, err
	}
	if p.cfg.Side == Callee {
		// The caller resolved this sidecar for another app, e.g. from a
		// stale name-resolution entry. Forwarding again could loop, and
		// serving it locally would reach the wrong app.
		return nil, nil, false, status.Errorf(codes.Unavailable,
			"failed to proxy request: this sidecar hosts app %q, not %q", p.cfg.AppID, target)
	}
	return p.remote(ctx, md, target)
}

// targetID prefers dapr-callee-app-id, which a caller sidecar sets, over the
// app-supplied dapr-app-id.
func targetID(md metadata.MD) string {
	for _, k := range []string{keyCalleeAppID, keyAppID} {
		if v := md.Get(k); len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}

// isSelf reports whether target ("app" or "app.namespace") names this app.
func (p *proxy) isSelf(target string) bool {
	id, ns, _ := strings.Cut(target, ".")
	if id != p.cfg.AppID {
		return false
	}
	return ns == "" || p.cfg.Namespace == "" || ns == p.cfg.Namespace
}

// local prepares a call to the local app: the caller's API token and
// dapr-app-id are never passed on; the app's own token is added when
// configured. Everything else, including dapr-caller-app-id and
// dapr-callee-app-id, stays visible to the app so it can tell who called.
func (p *proxy) local(md metadata.MD) (*grpc.ClientConn, metadata.MD, error) {
	var conn *grpc.ClientConn
	if p.cfg.LocalApp != nil {
		conn = p.cfg.LocalApp()
	}
	if conn == nil {
		return nil, nil, status.Error(codes.Internal, "app channel is not initialized")
	}
	if p.cfg.Healthy != nil && !p.cfg.Healthy() {
		return nil, nil, status.Error(codes.Internal, "app is not in a healthy state")
	}
	out := forwardable(md)
	if p.cfg.AppAPIToken != "" {
		out.Set(keyAPIToken, p.cfg.AppAPIToken)
	}
	return conn, out, nil
}

// remote prepares a call to the target app's sidecar, stamped with who is
// calling so the callee can route it and its app can see the caller. As
// daprd 1.18.3 does, dapr-callee-app-id replaces dapr-app-id and no
// dapr-caller-namespace is added (the HTTP way adds one).
func (p *proxy) remote(ctx context.Context, md metadata.MD, target string) (*grpc.ClientConn, metadata.MD, bool, error) {
	if p.cfg.Target == nil {
		return nil, nil, false, status.Error(codes.Internal, "failed to proxy request: remote invocation is not configured")
	}
	conn, self, err := p.cfg.Target(ctx, target)
	if err != nil {
		return nil, nil, false, targetError(target, err)
	}
	if self {
		conn, out, err := p.local(md)
		return conn, out, true, err
	}
	out := forwardable(md)
	out.Set(keyCallerAppID, p.cfg.AppID)
	out.Set(keyCalleeAppID, target)
	return conn, out, false, nil
}

// targetError keeps a status the resolver chose and otherwise reports the
// failure as Unknown, as a plain error would be.
func targetError(target string, err error) error {
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return err
	}
	return status.Errorf(codes.Unknown, "failed to proxy request: connect to app %q: %v", target, err)
}

// dropKeys are incoming entries that must not be replayed as outgoing
// metadata: grpc sets the transport ones itself, the API token belongs to
// this sidecar only, and dapr-app-id is routing for the sidecars (daprd
// 1.18.3 never shows it to the target app either).
var dropKeys = map[string]bool{
	keyAPIToken:    true,
	keyAppID:       true,
	"content-type": true,
	"user-agent":   true,
	"te":           true,
}

// forwardable copies md without pseudo-headers and dropKeys.
func forwardable(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		if strings.HasPrefix(k, ":") || dropKeys[k] {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
