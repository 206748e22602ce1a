// Package http adapts the Dapr HTTP API to the transport-neutral core: it
// routes paths, decodes JSON into Dapr's proto messages, and renders results
// and errors the way daprd does.
package http

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apiaccess"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/invoke"
)

// Config wires the HTTP API.
type Config struct {
	Core *api.Core
	// APIToken, when set, is required in the dapr-api-token header on every
	// route except the health checks.
	APIToken string
	// MaxBodySize caps request bodies in bytes; <=0 means unlimited.
	MaxBodySize int64
	// ForceExit ends the process at once (dapr-force-shutdown: true).
	ForceExit func()
	Log       *slog.Logger
	// Access applies Configuration spec.api allow/deny lists; nil serves all.
	Access *apiaccess.Rules
	// Pipeline wraps routing in the Configuration's httpPipeline
	// middleware, after the body limit and the token check; nil means none.
	Pipeline func(http.Handler) http.Handler
}

// Handler serves the Dapr HTTP API.
type Handler struct {
	core   *api.Core
	token  []byte
	max    int64
	exit   func()
	log    *slog.Logger
	access *apiaccess.Rules
	piped  http.Handler // routing behind the httpPipeline; nil without one
}

// New builds the handler.
func New(cfg Config) *Handler {
	h := &Handler{core: cfg.Core, max: cfg.MaxBodySize, exit: cfg.ForceExit, log: cfg.Log, access: cfg.Access}
	if cfg.APIToken != "" {
		h.token = []byte(cfg.APIToken)
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if cfg.Pipeline != nil {
		// The pipeline may rewrite the path (routeralias): route after it.
		h.piped = cfg.Pipeline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.serveRoute(w, r, splitRoute(r.URL.EscapedPath()))
		}))
	}
	return h
}

// route is a matched request: the version and the decoded path segments
// after it.
type route struct {
	version string
	segs    []string // raw (still escaped) segments after the version
}

// param returns segment i unescaped as Dapr does (url.QueryUnescape).
func (rt route) param(i int) (string, error) {
	return url.QueryUnescape(rt.segs[i])
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.max > 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, h.max)
	}
	rt := splitRoute(r.URL.EscapedPath())
	if !h.isHealth(r, rt) && !h.authorized(w, r) {
		return
	}
	if h.piped != nil {
		h.piped.ServeHTTP(w, r)
		return
	}
	h.serveRoute(w, r, rt)
}

// serveRoute applies the API lists and dispatches.
func (h *Handler) serveRoute(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.access.HTTPAllowed(rt.version, rt.segs) {
		h.removed(w, r)
		return
	}
	h.dispatch(w, r, rt)
}

// removed answers a route the API lists took out, as Dapr's router does
// when the route was never registered: the invocation fallback when that is
// still served, else a plain 404.
func (h *Handler) removed(w http.ResponseWriter, r *http.Request) {
	if h.access.InvokeAllowed() {
		h.fallback(w, r)
		return
	}
	http.NotFound(w, r)
}

// splitRoute cleans the escaped path as Dapr does (duplicate slashes, dot
// segments, trailing slash) and splits it into version and segments.
func splitRoute(escaped string) route {
	p := path.Clean("/" + escaped)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) == 0 {
		return route{}
	}
	return route{version: parts[0], segs: parts[1:]}
}

func (h *Handler) isHealth(r *http.Request, rt route) bool {
	return r.Method == http.MethodGet && rt.version == "v1.0" && len(rt.segs) >= 1 && rt.segs[0] == "healthz" &&
		(len(rt.segs) == 1 || (len(rt.segs) == 2 && rt.segs[1] == "outbound"))
}

// authorized enforces DAPR_API_TOKEN and strips the header so it is never
// forwarded.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.token == nil {
		return true
	}
	got := r.Header.Get("dapr-api-token")
	r.Header.Del("dapr-api-token")
	if subtle.ConstantTimeCompare([]byte(got), h.token) == 1 {
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("invalid api token\n"))
	return false
}

func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, rt route) {
	n := len(rt.segs)
	if n == 0 {
		h.fallback(w, r)
		return
	}
	switch rt.version {
	case "v1.0":
		switch rt.segs[0] {
		case "state":
			if h.stateRoutes(w, r, rt) {
				return
			}
		case "metadata":
			if h.metadataRoutes(w, r, rt) {
				return
			}
		case "healthz":
			if h.healthRoutes(w, r, rt) {
				return
			}
		case "shutdown":
			if n == 1 && r.Method == http.MethodPost {
				h.shutdown(w, r)
				return
			}
		case "publish":
			if h.publishRoutes(w, r, rt) {
				return
			}
		case "bindings":
			if h.bindingRoutes(w, r, rt) {
				return
			}
		case "secrets":
			if h.secretsRoutes(w, r, rt) {
				return
			}
		case "configuration":
			if h.configurationRoutes(w, r, rt) {
				return
			}
		case "actors":
			if h.actorRoutes(w, r, rt) {
				return
			}
		}
	case "v1.0-alpha1":
		if rt.segs[0] == "configuration" && h.configurationRoutes(w, r, rt) {
			return
		}
		if rt.segs[0] == "publish" && h.publishRoutes(w, r, rt) {
			return
		}
		if h.lockRoutes(w, r, rt) {
			return
		}
		if rt.segs[0] == "crypto" && h.cryptoRoutes(w, r, rt) {
			return
		}
		if rt.segs[0] == "state" && n == 3 && rt.segs[2] == "query" && isPostOrPut(r) {
			h.withStore(w, rt, 1, func(store string) { h.queryState(w, r, store) })
			return
		}
	}
	h.fallback(w, r)
}

func isPostOrPut(r *http.Request) bool {
	return r.Method == http.MethodPost || r.Method == http.MethodPut
}

// fallback is where unmatched routes land: service invocation, named by
// the dapr-app-id header, Basic auth, or the /v1.0/invoke/{id}/method/ path.
func (h *Handler) fallback(w http.ResponseWriter, r *http.Request) {
	appID, method, ok, err := invokeTarget(r)
	if !ok {
		writeError(w, apierr.NoAppID())
		return
	}
	if err != nil {
		writeError(w, apierr.DirectInvoke(appID, err))
		return
	}
	resp, err := h.core.Invoke(r.Context(), appID, invoke.RequestFromHTTP(r, method))
	if err != nil {
		writeError(w, err)
		return
	}
	if err := invoke.WriteHTTP(w, resp); err != nil {
		// The status line is out; abort so the client sees a broken body
		// rather than a short one.
		panic(http.ErrAbortHandler)
	}
}

// withStore decodes the store-name segment and calls fn, or answers 400
// when the segment can't be unescaped.
func (h *Handler) withStore(w http.ResponseWriter, rt route, i int, fn func(store string)) {
	store, err := rt.param(i)
	if err != nil {
		badParam(w, err)
		return
	}
	fn(store)
}

// badParam answers an undecodable path parameter with a plain-text 400,
// as Dapr's router does.
func badParam(w http.ResponseWriter, err error) {
	http.Error(w, "invalid path parameter: "+err.Error(), http.StatusBadRequest)
}

// readError maps a body read failure to Dapr's error.
func readError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apierr.TooLarge(limit)
	}
	return apierr.BodyRead(err)
}
