package metrics

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/outrigger/outrigger/internal/resources"
)

// maxPathLabels bounds the distinct path label values kept with
// http.increasedCardinality: past it, new paths are recorded with an
// empty path, so a client walking random URLs cannot grow the registry
// without end. (daprd has no such cap; this is a safety net.)
const maxPathLabels = 1000

// pathLabeler turns a request path into the `path` label of the HTTP
// metrics, as daprd does:
//   - a path that matches one of http.pathMatching is recorded as that
//     pattern (e.g. /orders/{orderID});
//   - otherwise, with increasedCardinality (the default) the path itself,
//     with the ids of the state, secrets, actors and workflows APIs masked;
//   - otherwise (low cardinality) an empty path.
type pathLabeler struct {
	increased bool
	mux       *http.ServeMux // nil without pathMatching
	hasRoot   bool           // "/" is one of the patterns: it catches the rest

	seen    children[string, struct{}] // the path labels kept so far
	methods children[string, string]   // invoked method name -> its label
}

func newPathLabeler(spec *resources.MetricHTTP) (pl *pathLabeler, err error) {
	pl = &pathLabeler{increased: true}
	pl.seen.limit = maxPathLabels
	if spec == nil {
		return pl, nil
	}
	if spec.IncreasedCardinality != nil {
		pl.increased = *spec.IncreasedCardinality
	}
	if len(spec.PathMatching) == 0 {
		return pl, nil
	}
	defer func() {
		// ServeMux panics on invalid or conflicting patterns.
		if r := recover(); r != nil {
			pl, err = nil, fmt.Errorf("metrics http.pathMatching: %v", r)
		}
	}()
	pl.mux = http.NewServeMux()
	registered := map[string]bool{}
	for _, p := range spec.PathMatching {
		p = strings.TrimSpace(p)
		if p == "" || registered[p] {
			continue
		}
		registered[p] = true
		if p == "/" {
			pl.hasRoot = true
		}
		pl.mux.Handle(p, http.NotFoundHandler())
	}
	return pl, nil
}

// label returns the path label for a request path.
func (pl *pathLabeler) label(p string) string {
	if pl.mux != nil {
		if pattern, ok := pl.match(p); ok {
			return pattern
		}
	}
	if !pl.increased {
		return ""
	}
	return pl.bounded(maskIDs(p))
}

// methodPath is label("/"+method) for the method of a service
// invocation, remembered by method so the hot path neither builds the path
// nor masks it again. A label never changes once given (see bounded), so
// remembering it is exact.
func (pl *pathLabeler) methodPath(method string) string {
	if l, ok := pl.methods.lookup(method); ok {
		return l
	}
	l := pl.label("/" + method)
	// An actor callback's method carries the actor id: remembering it
	// would fill the cache with ids that all share one masked label.
	if !strings.HasPrefix(method, "actors/") {
		pl.methods.store(strings.Clone(method), l)
	}
	return l
}

// match finds the pathMatching pattern for p. "/" only matches as a
// catch-all when it was configured.
func (pl *pathLabeler) match(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	clean := path.Clean("/" + p)
	_, pattern := pl.mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: clean}, Host: "localhost"})
	if pattern == "" || (pattern == "/" && !pl.hasRoot) {
		return "", false
	}
	return pattern, true
}

// bounded keeps at most maxPathLabels distinct values.
func (pl *pathLabeler) bounded(p string) string {
	if _, ok := pl.seen.lookup(p); ok {
		return p
	}
	if !pl.seen.store(strings.Clone(p), struct{}{}) {
		return ""
	}
	return p
}

// maskIDs drops or masks the parts of Dapr API paths that carry ids, as
// daprd's high-cardinality mode does: state and secret keys are dropped,
// actor ids and workflow instance ids become placeholders.
//
//	/v1.0/state/store/key            -> /v1.0/state/store
//	/v1.0/secrets/vault/name         -> /v1.0/secrets/vault
//	/v1.0/actors/T/id/method/m       -> /v1.0/actors/T/{id}/method
//	/actors/T/id/method/m (callback) -> /actors/T/{id}/method/m
//	/v1.0-beta1/workflows/c/inst/x   -> /v1.0-beta1/workflows/c/{instanceId}/x
//
// Other paths are returned as they are, without allocating.
func maskIDs(p string) string {
	trimmed := strings.TrimPrefix(p, "/")
	first, rest, ok := strings.Cut(trimmed, "/")
	if !ok {
		return p
	}
	second, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return p
	}
	if first == "actors" {
		return maskSplit(trimmed, 2, "{id}", 6)
	}
	switch second {
	case "state", "secrets":
		// Keep /<version>/state/<store>: a prefix of p.
		store, _, _ := strings.Cut(rest, "/")
		n := len(first) + 1 + len(second) + 1 + len(store)
		if len(trimmed) < len(p) {
			return p[:n+1]
		}
		return "/" + trimmed[:n]
	case "actors":
		parts := strings.SplitN(trimmed, "/", 6)
		if len(parts) < 5 {
			return p
		}
		parts[3] = "{id}"
		return "/" + strings.Join(parts[:5], "/")
	case "workflows":
		return maskWorkflow(p, strings.SplitN(trimmed, "/", 6))
	}
	return p
}

// maskSplit replaces segment i of the first n segments of trimmed.
func maskSplit(trimmed string, i int, with string, n int) string {
	parts := strings.SplitN(trimmed, "/", n)
	if len(parts) <= i {
		return "/" + trimmed
	}
	parts[i] = with
	return "/" + strings.Join(parts, "/")
}

func maskWorkflow(p string, parts []string) string {
	switch {
	case len(parts) < 4:
		return p
	case len(parts) == 4:
		parts[3] = "{instanceId}"
		return "/" + strings.Join(parts, "/")
	case len(parts) == 5 && strings.HasPrefix(parts[4], "start"):
		// .../workflows/<component>/<workflowName>/start[?instanceID=...]
		return "/" + strings.Join(parts[:4], "/") + "/start"
	}
	parts[3] = "{instanceId}"
	if len(parts) == 6 && parts[4] == "raiseEvent" {
		parts[5] = "{eventName}"
		return "/" + strings.Join(parts, "/")
	}
	return "/" + strings.Join(parts[:5], "/")
}

// httpMethod is the method label: the verb (UNKNOWN for non-standard
// verbs, so it stays bounded), or empty with http.excludeVerbs.
func (m *Metrics) httpMethod(verb string) string {
	if !m.verbs {
		return ""
	}
	switch verb {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch,
		http.MethodHead, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return verb
	}
	return "UNKNOWN"
}

// statusLabels holds the decimal text of every HTTP status so labelling a
// response does not allocate.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = fmt.Sprint(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return fmt.Sprint(code)
}
