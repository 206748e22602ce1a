package http

import (
	"github.com/outrigger/outrigger/internal/logging"

	"log/slog"
	"net/http"
	"strings"
	"time"
)

// PublicHandler serves only what daprd exposes on --dapr-public-port: the
// health checks and the metadata API, without token auth or body limits.
func PublicHandler(h *Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := splitRoute(r.URL.EscapedPath())
		if rt.version == "v1.0" && len(rt.segs) > 0 && (rt.segs[0] == "healthz" || rt.segs[0] == "metadata") {
			h.dispatch(w, r, rt)
			return
		}
		http.NotFound(w, r)
	})
}

// CORS answers cross-origin requests for --allowed-origins: "*" allows any
// origin, otherwise a comma-separated list.
func CORS(allowed string, next http.Handler) http.Handler {
	any := strings.TrimSpace(allowed) == "*"
	origins := map[string]bool{}
	for _, o := range strings.Split(allowed, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins[o] = true
		}
	}
	const methods = "HEAD, GET, POST, PUT, PATCH, DELETE"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (any || origins[origin]) {
			hd := w.Header()
			if any {
				hd.Set("Access-Control-Allow-Origin", "*")
			} else {
				hd.Set("Access-Control-Allow-Origin", origin)
				hd.Add("Vary", "Origin")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				hd.Set("Access-Control-Allow-Methods", methods)
				if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
					hd.Set("Access-Control-Allow-Headers", req)
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// APILoggingOptions are the Configuration's logging.apiLogging settings.
type APILoggingOptions struct {
	// ObfuscateURLs logs the route template ("POST /v1.0/state/{storeName}")
	// instead of the path, which may carry keys and ids.
	ObfuscateURLs bool
	// OmitHealthChecks skips the /v1.0/healthz routes.
	OmitHealthChecks bool
}

// APILogging logs one line per API call (--enable-api-logging), as daprd
// does: "HTTP API Called" in scope dapr.runtime.http-info with the method
// and path, the user agent, the status code and the duration.
func APILogging(log *slog.Logger, o APILoggingOptions, next http.Handler) http.Handler {
	log = logging.Scoped(log, "dapr.runtime.http-info")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.OmitHealthChecks && strings.HasPrefix(r.URL.Path, "/v1.0/healthz") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		p := r.URL.Path
		if o.ObfuscateURLs {
			p = routeTemplate(r.URL.EscapedPath())
		}
		log.Info("HTTP API Called", "method", r.Method+" "+p, "useragent", r.UserAgent(),
			"code", sw.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
