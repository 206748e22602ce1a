// Package uppercase is middleware.http.uppercase, Dapr's demo middleware:
// it upper-cases the request body, the response body, or both.
package uppercase

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.uppercase", func() middleware.Middleware { return &Uppercase{} })
}

// Uppercase upper-cases bodies.
type Uppercase struct {
	request, response bool
}

// Init reads direction: request (default), response or both.
func (u *Uppercase) Init(_ context.Context, md middleware.Metadata) error {
	switch d := strings.ToLower(md.String("request", "direction")); d {
	case "request":
		u.request = true
	case "response":
		u.response = true
	case "both":
		u.request, u.response = true, true
	default:
		return fmt.Errorf("direction %q: want request, response or both", d)
	}
	return nil
}

func (u *Uppercase) Close() error { return nil }

func (u *Uppercase) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.request && r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				middleware.RespondText(w, http.StatusBadRequest, "failed to read the request body")
				return
			}
			body = bytes.ToUpper(body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if r.Header.Get("Content-Length") != "" {
				r.Header.Set("Content-Length", strconv.Itoa(len(body)))
			}
		}
		if !u.response {
			next.ServeHTTP(w, r)
			return
		}
		bw := &bufferedWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(bw, r)
		out := bytes.ToUpper(bw.buf.Bytes())
		w.Header().Del("Content-Length")
		if len(out) > 0 {
			w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		}
		w.WriteHeader(bw.status)
		_, _ = w.Write(out)
	})
}

// bufferedWriter holds the response until the handler is done, so the body
// can be transformed as a whole (upper-casing a chunk that splits a UTF-8
// sequence would corrupt it).
type bufferedWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	buf    bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.buf.Write(p)
}
