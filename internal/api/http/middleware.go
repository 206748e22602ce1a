package http

import (
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

// APILogging logs one line per API call (--enable-api-logging). Health
// checks are skipped when omitHealth is set.
func APILogging(log *slog.Logger, omitHealth bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if omitHealth && strings.HasPrefix(r.URL.Path, "/v1.0/healthz") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Info("HTTP API called", "method", r.Method, "path", r.URL.Path, "code", sw.status, "duration_ms", float64(time.Since(start).Microseconds())/1000)
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
