package invoke

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// targetKind says how an invocation reaches its target.
type targetKind int

const (
	kindRemote   targetKind = iota // another sidecar, over internal gRPC
	kindSelf                       // this sidecar's own app
	kindEndpoint                   // an HTTPEndpoint resource
	kindURL                        // a full http(s):// base URL
)

// target is a parsed app id.
type target struct {
	kind      targetKind
	appID     string // remote/self: the app id without namespace
	namespace string // remote/self
	endpoint  *endpoint
	baseURL   string // kindURL
}

// parseTarget reads the forms daprd accepts as an app id: an HTTPEndpoint
// name, an http(s):// base URL, "app" or "app.namespace".
func (i *Invoker) parseTarget(id string) (target, error) {
	if ep := (*i.endpoints.Load())[id]; ep != nil {
		return target{kind: kindEndpoint, endpoint: ep}, nil
	}
	if strings.HasPrefix(id, "http://") || strings.HasPrefix(id, "https://") {
		return target{kind: kindURL, baseURL: id}, nil
	}
	appID, ns, err := splitAppID(id, i.cfg.Namespace)
	if err != nil {
		return target{}, err
	}
	t := target{kind: kindRemote, appID: appID, namespace: ns}
	if appID == i.cfg.AppID && ns == i.cfg.Namespace {
		t.kind = kindSelf
	}
	return t, nil
}

// splitAppID splits "app.namespace"; a bare id is in defaultNS.
func splitAppID(id, defaultNS string) (appID, ns string, err error) {
	if id == "" {
		return "", "", errors.New("app id is empty")
	}
	switch strings.Count(id, ".") {
	case 0:
		return id, defaultNS, nil
	case 1:
		appID, ns, _ = strings.Cut(id, ".")
		if appID == "" || ns == "" {
			return "", "", fmt.Errorf("invalid app id %s", id)
		}
		return appID, ns, nil
	default:
		return "", "", fmt.Errorf("invalid app id %s", id)
	}
}

// NormalizeMethod checks and cleans a method path as daprd does before
// dispatch: '#', '?', NUL and control characters are refused; duplicate
// slashes and dot segments are resolved (so ".." can never climb above the
// app's root); the result has no leading slash ("" for the root). A
// refused method is an InvalidArgument status worded as daprd's callee
// words it, so the caller's error reads the same.
func NormalizeMethod(m string) (string, error) {
	for i := 0; i < len(m); i++ {
		if c := m[i]; c == '#' || c == '?' || c < 0x20 || c == 0x7f {
			return "", status.Errorf(codes.InvalidArgument, "invalid method: method contains forbidden character: %q", m)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+m), "/"), nil
}
