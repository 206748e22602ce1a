// Package routerchecker is middleware.http.routerchecker: requests whose
// path (and query) do not match a regular expression are refused with 400
// "invalid router", keeping malformed routes out of the app and the logs.
package routerchecker

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.routerchecker", func() middleware.Middleware { return &Checker{} })
}

// Checker refuses routes that do not match rule.
type Checker struct {
	rule *regexp.Regexp
}

// Init compiles the required rule.
func (c *Checker) Init(_ context.Context, md middleware.Metadata) error {
	rule, err := md.Required("rule")
	if err != nil {
		return err
	}
	c.rule, err = regexp.Compile(rule)
	if err != nil {
		return fmt.Errorf("rule: %w", err)
	}
	return nil
}

func (c *Checker) Close() error { return nil }

func (c *Checker) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The decoded path, as Dapr matches it: "cat password" arrives as
		// cat%20password and must still be refused by ^[A-Za-z0-9/._-]+$.
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		if !c.rule.MatchString(target) {
			middleware.RespondText(w, http.StatusBadRequest, "invalid router")
			return
		}
		next.ServeHTTP(w, r)
	})
}
