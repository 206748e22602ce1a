// Package resources defines Dapr's resource types (Component,
// Configuration, Subscription, Resiliency, HTTPEndpoint) and loads them from
// YAML files in standalone mode, with the same scoping rules as daprd.
//
// Unlike daprd, which logs and skips documents it cannot use, loading fails
// on any problem, naming the file, document and field, so that a typo never
// silently drops a component.
package resources

import (
	"context"
	"errors"
	"log/slog"
)

// LoadOptions says where to read resources from and for which app.
type LoadOptions struct {
	ResourcesPaths []string // directories (not recursive) or single files, in order
	AppID          string
	Namespace      string       // env NAMESPACE, "" when unset
	Logger         *slog.Logger // nil means slog.Default()
}

// Set is everything loaded for one app, each list in load order.
type Set struct {
	Components    []Component
	Subscriptions []Subscription
	Resiliencies  []Resiliency
	HTTPEndpoints []HTTPEndpoint
	Others        []Other
}

// Other is a resource of a kind this runtime only lists by name
// (MCPServer, WorkflowAccessPolicy, and a misplaced Configuration).
type Other struct {
	Kind   string
	Name   string
	Source Source
}

// Load reads every resource document under opts.ResourcesPaths, keeps
// those meant for this app and namespace, and reports all problems at once
// (errors.Join of *Error values).
func Load(ctx context.Context, opts LoadOptions) (*Set, error) {
	l := &loader{
		opts:       opts,
		log:        opts.Logger,
		set:        &Set{},
		components: map[componentKey]Source{},
		endpoints:  map[string]Source{},
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	for _, p := range opts.ResourcesPaths {
		files, err := listFiles(p, l.log)
		if err != nil {
			l.problems = append(l.problems, err)
			continue
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			l.loadFile(f)
		}
	}
	if len(l.problems) > 0 {
		return nil, errors.Join(l.problems...)
	}
	return l.set, nil
}

type componentKey struct {
	category Category
	name     string
}

// loader holds the state of one Load call.
type loader struct {
	opts       LoadOptions
	log        *slog.Logger
	set        *Set
	problems   []error
	components map[componentKey]Source // loaded components, for duplicates
	endpoints  map[string]Source       // loaded HTTPEndpoints, for duplicates
}

// report records problems found in one document.
func (l *loader) report(src Source, list []*Error) {
	for _, e := range list {
		e.File, e.Document = src.File, src.Document
		l.problems = append(l.problems, e)
	}
}

func (l *loader) wanted(meta ObjectMeta, scopes []string) bool {
	return inScope(meta, scopes, l.opts.AppID, l.opts.Namespace)
}
