// Package routeralias is middleware.http.routeralias: it maps arbitrary
// incoming paths to Dapr API paths. Keys are path templates whose {name}
// (or {name:regex}) segments become query parameters of the target, e.g.
// "/hello/{id}/info" → "/v1.0/invoke/srv/method/info" turns /hello/7/info
// into /v1.0/invoke/srv/method/info?id=7.
package routeralias

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/outrigger/outrigger/internal/middleware"
)

func init() {
	middleware.Registry.Register("middleware.http.routeralias", func() middleware.Middleware { return &Alias{} })
}

// Alias rewrites matching request paths.
type Alias struct {
	routes []route
}

type route struct {
	template string
	re       *regexp.Regexp
	vars     []string
	target   string
}

// Init parses routes: a JSON or YAML object of template → target path.
func (a *Alias) Init(_ context.Context, md middleware.Metadata) error {
	raw, err := md.Required("routes")
	if err != nil {
		return err
	}
	var m map[string]string
	if err := yaml.Unmarshal([]byte(raw), &m); err != nil {
		return fmt.Errorf("routes: not a JSON or YAML object of path to path: %w", err)
	}
	for tmpl, target := range m {
		r, err := compile(tmpl, target)
		if err != nil {
			return err
		}
		a.routes = append(a.routes, r)
	}
	// Literal routes win over templated ones, then longer templates over
	// shorter, so the outcome never depends on map order.
	sort.Slice(a.routes, func(i, j int) bool {
		ri, rj := a.routes[i], a.routes[j]
		if len(ri.vars) != len(rj.vars) {
			return len(ri.vars) < len(rj.vars)
		}
		if len(ri.template) != len(rj.template) {
			return len(ri.template) > len(rj.template)
		}
		return ri.template < rj.template
	})
	return nil
}

// compile turns "/a/{id}/b" into ^/a/(?P<id>[^/]+)/b$.
func compile(tmpl, target string) (route, error) {
	if !strings.HasPrefix(tmpl, "/") || !strings.HasPrefix(target, "/") {
		return route{}, fmt.Errorf("routes: %q → %q: both paths must start with /", tmpl, target)
	}
	var re strings.Builder
	var vars []string
	re.WriteString("^")
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			re.WriteString(regexp.QuoteMeta(rest))
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return route{}, fmt.Errorf("routes: %q: unclosed {", tmpl)
		}
		re.WriteString(regexp.QuoteMeta(rest[:open]))
		name, pattern, hasPattern := strings.Cut(rest[open+1:open+end], ":")
		if !hasPattern {
			pattern = "[^/]+"
		}
		// Named groups keep the index right when pattern has groups of its own.
		fmt.Fprintf(&re, "(?P<v%d>%s)", len(vars), pattern)
		vars = append(vars, name)
		rest = rest[open+end+1:]
	}
	re.WriteString("$")
	compiled, err := regexp.Compile(re.String())
	if err != nil {
		return route{}, fmt.Errorf("routes: %q: %w", tmpl, err)
	}
	return route{template: tmpl, re: compiled, vars: vars, target: target}, nil
}

func (a *Alias) Close() error { return nil }

func (a *Alias) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range a.routes {
			m := rt.re.FindStringSubmatch(r.URL.Path)
			if m == nil {
				continue
			}
			q := r.URL.Query()
			for i, name := range rt.vars {
				q.Add(name, m[rt.re.SubexpIndex(fmt.Sprintf("v%d", i))])
			}
			r.URL.Path, r.URL.RawPath = rt.target, ""
			r.URL.RawQuery = q.Encode()
			if r.RequestURI != "" {
				r.RequestURI = r.URL.RequestURI()
			}
			break
		}
		next.ServeHTTP(w, r)
	})
}
