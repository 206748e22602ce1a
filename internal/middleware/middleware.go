// Package middleware is the HTTP middleware building block: the contract
// middleware.http.* components implement, their registry, and the pipelines
// built from a Configuration's httpPipeline (around the Dapr HTTP API) and
// appHttpPipeline (around the sidecar's HTTP calls to the app).
// Implementations live in subpackages.
package middleware

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registry holds the middleware constructors linked into the binary, keyed
// by full type name ("middleware.http.ratelimit").
var Registry = registry.New[Middleware]("middleware")

// Metadata initialises a middleware: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// Middleware is one HTTP middleware component. Init reads the metadata and
// does any start-up work (fetching keys, compiling policies); Handler then
// wraps a handler and may be called more than once (once per pipeline that
// names the component), the wrappers sharing the component's state.
// Handlers are safe for concurrent use.
type Middleware interface {
	Init(ctx context.Context, md Metadata) error
	Handler(next http.Handler) http.Handler
	// Close stops background work (refreshers, janitors).
	Close() error
}

// Component is a loaded middleware.
type Component struct {
	Name, Type, Version string
	Middleware          Middleware
}

// Prop looks a metadata key up case-insensitively, as Dapr's metadata
// decoder does; an exact match wins over one that differs in case. Several
// names may be given (aliases); the first one present wins.
func (md Metadata) Prop(names ...string) (string, bool) {
	for _, name := range names {
		if v, ok := md.Properties[name]; ok {
			return v, true
		}
		for k, v := range md.Properties {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
	}
	return "", false
}

// String returns a metadata value, or def when absent or empty.
func (md Metadata) String(def string, names ...string) string {
	if v, ok := md.Prop(names...); ok && v != "" {
		return v
	}
	return def
}

// Required returns a metadata value that must be present and non-empty.
func (md Metadata) Required(names ...string) (string, error) {
	v, ok := md.Prop(names...)
	if !ok || strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("metadata property %q is required", names[0])
	}
	return v, nil
}

// RequiredAll returns the values of several required properties, in
// order, or one error naming every missing one, so a user fixes them all
// at once.
func (md Metadata) RequiredAll(names ...string) ([]string, error) {
	vals := make([]string, len(names))
	var missing []string
	for i, name := range names {
		v, err := md.Required(name)
		if err != nil {
			missing = append(missing, name)
		}
		vals[i] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("metadata properties %s are required", strings.Join(missing, ", "))
	}
	return vals, nil
}

// List splits a comma-separated value into its trimmed, non-empty items.
func (md Metadata) List(names ...string) []string {
	var out []string
	for _, item := range strings.Split(md.String("", names...), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Regexp compiles a regular expression value; absent or empty gives nil.
func (md Metadata) Regexp(names ...string) (*regexp.Regexp, error) {
	v := md.String("", names...)
	if v == "" {
		return nil, nil
	}
	re, err := regexp.Compile(v)
	if err != nil {
		return nil, fmt.Errorf("metadata property %q: %w", names[0], err)
	}
	return re, nil
}

// Bool parses a boolean metadata value the way Dapr's decoder does
// (true/false, 1/0, yes/no, on/off); absent or empty means def.
func (md Metadata) Bool(def bool, names ...string) (bool, error) {
	v, ok := md.Prop(names...)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "y", "on":
		return true, nil
	case "false", "0", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("metadata property %q: %q is not a boolean", names[0], v)
}

// Float parses a number; absent or empty means def.
func (md Metadata) Float(def float64, names ...string) (float64, error) {
	v, ok := md.Prop(names...)
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, fmt.Errorf("metadata property %q: %q is not a number", names[0], v)
	}
	return f, nil
}

// Int parses an integer; absent or empty means def.
func (md Metadata) Int(def int, names ...string) (int, error) {
	v, ok := md.Prop(names...)
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("metadata property %q: %q is not an integer", names[0], v)
	}
	return n, nil
}

// RespondText writes a plain-text answer, as Dapr's middleware do for
// their rejections.
func RespondText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

// RespondStatus writes the status with its standard text as the body.
func RespondStatus(w http.ResponseWriter, status int) {
	RespondText(w, status, http.StatusText(status))
}
