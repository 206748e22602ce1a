package resources

import (
	"slices"
	"strings"
)

// kindVersions lists the apiVersions accepted for each Dapr kind.
var kindVersions = map[string][]string{
	"Component":            {"dapr.io/v1alpha1"},
	"Configuration":        {"dapr.io/v1alpha1"},
	"HTTPEndpoint":         {"dapr.io/v1alpha1"},
	"MCPServer":            {"dapr.io/v1alpha1"},
	"Resiliency":           {"dapr.io/v1alpha1"},
	"Subscription":         {"dapr.io/v1alpha1", "dapr.io/v2alpha1"},
	"WorkflowAccessPolicy": {"dapr.io/v1alpha1"},
}

// loadDocument dispatches one parsed document on apiVersion and kind.
func (l *loader) loadDocument(src Source, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		l.report(src, errs(fieldErr("", "want a mapping with apiVersion and kind, got %s", describeValue(v))))
		return
	}
	apiVersion, kind, problems := envelope(m)
	if problems != nil {
		l.report(src, problems)
		return
	}
	if !isDaprResource(apiVersion, kind) {
		l.log.Debug("skipping non-Dapr document", "file", src.File, "document", src.Document,
			"apiVersion", apiVersion, "kind", kind)
		return
	}
	if e := checkKind(apiVersion, kind); e != nil {
		l.report(src, errs(e))
		return
	}
	switch kind {
	case "Component":
		l.addComponent(src, v)
	case "Subscription":
		l.addSubscription(src, v, apiVersion)
	case "Resiliency":
		l.addResiliency(src, v)
	case "HTTPEndpoint":
		l.addHTTPEndpoint(src, v)
	default:
		l.addOther(src, v, kind)
	}
}

// envelope reads apiVersion and kind, which must be strings when present.
func envelope(m map[string]any) (apiVersion, kind string, problems []*Error) {
	read := func(key string) string {
		switch x := m[key].(type) {
		case nil:
			return ""
		case string:
			return x
		default:
			problems = append(problems, fieldErr(key, "want a string, got %s", describeValue(x)))
			return ""
		}
	}
	apiVersion, kind = read("apiVersion"), read("kind")
	return apiVersion, kind, problems
}

// isDaprResource tells Dapr documents from others sharing the directory (a
// Kubernetes Secret, another project's CRD): a dapr API group, or a Dapr kind
// whose apiVersion has no dotted group at all (a forgotten or mistyped
// "dapr.io/" prefix), is ours; anything else is skipped.
func isDaprResource(apiVersion, kind string) bool {
	group, _, hasGroup := strings.Cut(apiVersion, "/")
	if hasGroup && strings.Contains(group, "dapr") {
		return true
	}
	_, known := kindVersions[kind]
	return known && !(hasGroup && strings.Contains(group, "."))
}

func checkKind(apiVersion, kind string) *Error {
	versions, known := kindVersions[kind]
	if kind == "" {
		return fieldErr("kind", "required")
	}
	if !known {
		return fieldErr("kind", "%q is not a known Dapr resource kind (want one of %s)",
			kind, strings.Join(sortedKeys(kindVersions), ", "))
	}
	if slices.Contains(versions, apiVersion) {
		return nil
	}
	want := strings.Join(versions, " or ")
	if apiVersion == "" {
		return fieldErr("apiVersion", "required for kind %s (want %s)", kind, want)
	}
	return fieldErr("apiVersion", "%q is not supported for kind %s (want %s)", apiVersion, kind, want)
}

func (l *loader) addComponent(src Source, v any) {
	var c Component
	if !l.decode(src, v, &c) {
		return
	}
	if p := c.validate(); p != nil {
		l.report(src, p)
		return
	}
	if !l.wanted(c.Metadata, c.Scopes) {
		return
	}
	if t := c.Spec.InitTimeout; t != "" && !validInitTimeout(t) {
		l.log.Warn("invalid spec.initTimeout, using the default", "component", c.Metadata.Name,
			"initTimeout", c.Spec.InitTimeout, "default", DefaultInitTimeout, "source", src.String())
	}
	key := componentKey{c.Category(), c.Metadata.Name}
	if first, dup := l.components[key]; dup {
		l.report(src, errs(fieldErr("metadata.name", "duplicate %s component %q (first defined in %s)",
			key.category, key.name, first)))
		return
	}
	l.components[key] = src
	c.Source = src
	l.set.Components = append(l.set.Components, c)
}

func (l *loader) addSubscription(src Source, v any, apiVersion string) {
	s, ok := l.decodeSubscription(src, v, apiVersion)
	if !ok || !l.wanted(s.Metadata, s.Scopes) {
		return
	}
	s.Source = src
	l.set.Subscriptions = append(l.set.Subscriptions, s)
}

// decodeSubscription decodes either version into the v2 shape.
func (l *loader) decodeSubscription(src Source, v any, apiVersion string) (Subscription, bool) {
	var s Subscription
	var problems []*Error
	if apiVersion == "dapr.io/v1alpha1" {
		var s1 subscriptionV1
		if !l.decode(src, v, &s1) {
			return s, false
		}
		s, problems = s1.toV2(), s1.validate()
	} else {
		if !l.decode(src, v, &s) {
			return s, false
		}
		problems = s.validate()
	}
	l.report(src, problems)
	return s, problems == nil
}

func (l *loader) addResiliency(src Source, v any) {
	var r Resiliency
	if !l.decode(src, v, &r) {
		return
	}
	if p := r.validate(); p != nil {
		l.report(src, p)
		return
	}
	if !l.wanted(r.Metadata, r.Scopes) {
		return
	}
	r.Source = src
	l.set.Resiliencies = append(l.set.Resiliencies, r)
}

func (l *loader) addHTTPEndpoint(src Source, v any) {
	var e HTTPEndpoint
	if !l.decode(src, v, &e) {
		return
	}
	if p := e.validate(); p != nil {
		l.report(src, p)
		return
	}
	if !l.wanted(e.Metadata, e.Scopes) {
		return
	}
	if first, dup := l.endpoints[e.Metadata.Name]; dup {
		l.report(src, errs(fieldErr("metadata.name", "duplicate HTTPEndpoint %q (first defined in %s)", e.Metadata.Name, first)))
		return
	}
	l.endpoints[e.Metadata.Name] = src
	e.Source = src
	l.set.HTTPEndpoints = append(l.set.HTTPEndpoints, e)
}

// addOther records kinds that are only listed by name.
func (l *loader) addOther(src Source, v any, kind string) {
	var o struct {
		Metadata ObjectMeta `json:"metadata"`
		Scopes   []string   `json:"scopes"`
	}
	// Only metadata and scopes are read, so other fields are not "unknown".
	if _, p := decodeValue(v, &o); p != nil {
		l.report(src, p)
		return
	}
	if e := checkName(o.Metadata.Name); e != nil {
		l.report(src, errs(e))
		return
	}
	if kind == "Configuration" {
		l.log.Warn("a Configuration in a resources path is not applied; pass its file with --config",
			"name", o.Metadata.Name, "source", src.String())
	}
	if !l.wanted(o.Metadata, o.Scopes) {
		return
	}
	l.set.Others = append(l.set.Others, Other{Kind: kind, Name: o.Metadata.Name, Source: src})
}

// decode decodes a document into out, reporting problems and warning about
// fields that match nothing (most likely typos, which Dapr also ignores).
func (l *loader) decode(src Source, v any, out any) bool {
	unknown, p := decodeValue(v, out)
	for _, f := range unknown {
		l.log.Warn("unknown field in resource ignored", "file", src.File, "document", src.Document, "field", f)
	}
	if p != nil {
		l.report(src, p)
		return false
	}
	return true
}
