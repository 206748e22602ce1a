package middleware

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/outrigger/outrigger/internal/registry"
	"github.com/outrigger/outrigger/internal/resources"
)

// Pipeline is an ordered chain of middleware. The zero Pipeline is empty
// and wraps nothing.
type Pipeline struct {
	stages []stage
}

type stage struct {
	name string
	wrap func(http.Handler) http.Handler
}

// Build resolves a Configuration pipeline against the loaded middleware
// components: each handler must name a component of the same name, type
// and version (empty means v1). where names the pipeline in errors
// ("httpPipeline", "appHttpPipeline").
func Build(where string, spec resources.PipelineSpec, comps []*Component) (Pipeline, error) {
	var p Pipeline
	for i, h := range spec.Handlers {
		c := find(comps, h)
		if c == nil {
			return Pipeline{}, fmt.Errorf("%s.handlers[%d]: no middleware component named %q of type %s/%s is loaded (define a Component with that name, type and version in the resources path)",
				where, i, h.Name, h.Type, registry.NormalizeVersion(h.Version))
		}
		p.stages = append(p.stages, stage{name: c.Name, wrap: c.Middleware.Handler})
	}
	return p, nil
}

func find(comps []*Component, h resources.HandlerSpec) *Component {
	for _, c := range comps {
		if c.Name == h.Name && strings.EqualFold(c.Type, h.Type) &&
			registry.NormalizeVersion(c.Version) == registry.NormalizeVersion(h.Version) {
			return c
		}
	}
	return nil
}

// Empty reports whether the pipeline has no middleware.
func (p Pipeline) Empty() bool { return len(p.stages) == 0 }

// Names lists the middleware in order, for logs.
func (p Pipeline) Names() []string {
	out := make([]string, len(p.stages))
	for i, s := range p.stages {
		out[i] = s.name
	}
	return out
}

// Wrap puts the pipeline in front of h: the first handler of the
// Configuration sees the request first and the response last.
func (p Pipeline) Wrap(h http.Handler) http.Handler {
	for i := len(p.stages) - 1; i >= 0; i-- {
		h = p.stages[i].wrap(h)
	}
	return h
}

// WrapFunc is Wrap as a function value, or nil for an empty pipeline so
// callers can skip the pipeline's cost altogether.
func (p Pipeline) WrapFunc() func(http.Handler) http.Handler {
	if p.Empty() {
		return nil
	}
	return p.Wrap
}
