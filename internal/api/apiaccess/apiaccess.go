// Package apiaccess applies the Configuration's spec.api allow and deny
// lists: which Dapr API groups the sidecar serves over HTTP and over gRPC.
//
// A rule {name, version, protocol} matches an endpoint when name and
// version equal the endpoint's group ("state" and "v1", "lock" and
// "v1alpha1"), or, the older form Dapr still honours, when version equals
// the HTTP path version ("v1.0", "v1.0-alpha1") and the route after it
// starts with name. A rule applies only to the protocol it names. With an
// allow list, only matching endpoints are served; a deny list removes
// endpoints and wins over the allow list. Health checks are always served.
package apiaccess

import (
	"strings"

	"github.com/outrigger/outrigger/internal/resources"
)

// Group names an API group: {Name: "state", Version: "v1"}.
type Group struct {
	Name, Version string
}

// Rules are the compiled allow and deny lists.
type Rules struct {
	http, grpc ruleSet
}

type ruleSet struct {
	allowed, denied []resources.APIAccessRule
}

// New compiles spec. A nil *Rules (or one built from an empty spec) allows
// everything.
func New(spec resources.APISpec) *Rules {
	r := &Rules{}
	for _, rule := range spec.Allowed {
		if set := r.set(rule.Protocol); set != nil {
			set.allowed = append(set.allowed, rule)
		}
	}
	for _, rule := range spec.Denied {
		if set := r.set(rule.Protocol); set != nil {
			set.denied = append(set.denied, rule)
		}
	}
	if r.http.empty() && r.grpc.empty() {
		return nil
	}
	return r
}

// set picks the rules of a protocol; a rule without one applies to neither.
func (r *Rules) set(protocol string) *ruleSet {
	switch strings.ToLower(protocol) {
	case "http":
		return &r.http
	case "grpc":
		return &r.grpc
	}
	return nil
}

func (s ruleSet) empty() bool { return len(s.allowed) == 0 && len(s.denied) == 0 }

// endpoint is what rules are matched against.
type endpoint struct {
	group       Group
	pathVersion string // HTTP only: "v1.0", "v1.0-alpha1"
	route       string // HTTP only: the path after the version
}

func (s ruleSet) allows(e endpoint) bool {
	if len(s.allowed) > 0 && !matchAny(s.allowed, e) {
		return false
	}
	return !matchAny(s.denied, e)
}

func matchAny(rules []resources.APIAccessRule, e endpoint) bool {
	for _, r := range rules {
		if r.Name == e.group.Name && r.Version == e.group.Version {
			return true
		}
		if e.pathVersion != "" && r.Name != "" && r.Version == e.pathVersion && strings.HasPrefix(e.route, r.Name) {
			return true
		}
	}
	return false
}

// HTTPAllowed reports whether the HTTP route is served. version is the
// path's first segment ("v1.0"), segs the (escaped) segments after it.
// Paths that are no Dapr API (the invocation fallback with dapr-app-id on
// any path) count as the invoke group.
func (r *Rules) HTTPAllowed(version string, segs []string) bool {
	if r == nil || r.http.empty() || isHealth(version, segs) {
		return true
	}
	g, ok := HTTPGroup(version, segs)
	if !ok {
		g = Group{Name: "invoke", Version: "v1"}
	}
	return r.http.allows(endpoint{group: g, pathVersion: version, route: strings.Join(segs, "/")})
}

// InvokeAllowed reports whether service invocation is served over HTTP; it
// decides what an unmatched or removed route answers.
func (r *Rules) InvokeAllowed() bool {
	if r == nil || r.http.empty() {
		return true
	}
	return r.http.allows(endpoint{group: Group{Name: "invoke", Version: "v1"}, pathVersion: "v1.0", route: "invoke"})
}

func isHealth(version string, segs []string) bool {
	return version == "v1.0" && len(segs) > 0 && segs[0] == "healthz"
}

// HTTPGroup names the group of a Dapr HTTP API route; ok is false for
// paths outside the Dapr API.
func HTTPGroup(version string, segs []string) (g Group, ok bool) {
	if len(segs) == 0 {
		return Group{}, false
	}
	var gv string
	switch version {
	case "v1.0":
		gv = "v1"
	case "v1.0-alpha1":
		gv = "v1alpha1"
	case "v1.0-alpha2":
		gv = "v1alpha2"
	case "v1.0-beta1":
		gv = "v1beta1"
	default:
		return Group{}, false
	}
	name := segs[0]
	switch name {
	case "state", "invoke", "publish", "bindings", "secrets", "actors", "metadata", "configuration",
		"lock", "unlock", "crypto", "subtlecrypto", "workflows", "jobs", "shutdown", "conversation", "healthz":
		return Group{Name: name, Version: gv}, true
	}
	return Group{}, false
}
