// Package static is the "static" name resolver, an Outrigger addition (Dapr
// has no such component) for tests and simple fixed deployments: app ids and
// their sidecars' internal gRPC addresses are listed in the configuration.
//
//	nameResolution:
//	  component: static
//	  configuration:
//	    apps:
//	      orders: ["10.0.0.5:50002", "10.0.0.6:50002"]
//	      # or, as a list:
//	      # - appID: orders
//	      #   addresses: ["10.0.0.5:50002"]
//
// The namespace of a request is ignored. Several addresses of one app id are
// used in turn.
package static

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/outrigger/outrigger/internal/nameresolution"
)

func init() {
	nameresolution.Registry.Register("static", func() nameresolution.Resolver { return &Resolver{} })
}

// Resolver hands out the configured addresses round-robin.
type Resolver struct {
	apps map[string]*app
}

type app struct {
	addrs []string
	next  atomic.Uint64
}

// Init reads the apps table.
func (r *Resolver) Init(_ context.Context, md nameresolution.Metadata) error {
	raw, ok := nameresolution.Config(md.Configuration).Value("apps")
	if !ok || raw == nil {
		return errors.New("static name resolution: configuration.apps is required")
	}
	table, err := parseApps(raw)
	if err != nil {
		return fmt.Errorf("static name resolution: apps: %w", err)
	}
	r.apps = map[string]*app{}
	for id, addrs := range table {
		r.apps[id] = &app{addrs: addrs}
	}
	return nil
}

// Resolve returns the next configured address of req.ID.
func (r *Resolver) Resolve(_ context.Context, req nameresolution.Request) (string, error) {
	a, ok := r.apps[req.ID]
	if !ok {
		return "", fmt.Errorf("app id %q is not listed in the static name resolution configuration (known: %s)", req.ID, r.known())
	}
	n := a.next.Add(1) - 1
	return a.addrs[n%uint64(len(a.addrs))], nil
}

// Close has nothing to release.
func (r *Resolver) Close() error { return nil }

func (r *Resolver) known() string {
	ids := make([]string, 0, len(r.apps))
	for id := range r.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

// parseApps accepts the map form {id: [addr...]} and the list form
// [{appID: id, addresses: [addr...]}]. An address list may also be a single
// comma-separated string.
func parseApps(raw any) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(id string, v any) error {
		if id == "" {
			return errors.New("empty app id")
		}
		if _, dup := out[id]; dup {
			return fmt.Errorf("app id %q listed twice", id)
		}
		addrs, err := parseAddrs(v)
		if err != nil {
			return fmt.Errorf("app id %q: %w", id, err)
		}
		out[id] = addrs
		return nil
	}
	switch raw := raw.(type) {
	case map[string]any:
		for id, v := range raw {
			if err := add(id, v); err != nil {
				return nil, err
			}
		}
	case []any:
		for i, item := range raw {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("item %d: expected {appID, addresses}, got %T", i, item)
			}
			entry := nameresolution.Config(m)
			id, err := entry.String("", "appID")
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			addrs, _ := entry.Value("addresses")
			if err := add(id, addrs); err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
	default:
		return nil, fmt.Errorf("expected a map of app id to addresses or a list, got %T", raw)
	}
	if len(out) == 0 {
		return nil, errors.New("no apps listed")
	}
	return out, nil
}

func parseAddrs(v any) ([]string, error) {
	var items []string
	switch v := v.(type) {
	case string:
		items = strings.Split(v, ",")
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("address %v is not a string", x)
			}
			items = append(items, s)
		}
	case []string:
		items = v
	case nil:
	default:
		return nil, fmt.Errorf("expected a list of host:port, got %T", v)
	}
	var addrs []string
	for _, s := range items {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if err := checkAddr(s); err != nil {
			return nil, err
		}
		addrs = append(addrs, s)
	}
	if len(addrs) == 0 {
		return nil, errors.New("no addresses")
	}
	return addrs, nil
}

func checkAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("address %q: want host:port: %w", s, err)
	}
	if host == "" {
		return fmt.Errorf("address %q: empty host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("address %q: invalid port", s)
	}
	return nil
}
