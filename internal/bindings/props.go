package bindings

import (
	"slices"
	"strings"
)

// Operation names shared by several bindings.
const (
	OpCreate    = "create"
	OpGet       = "get"
	OpDelete    = "delete"
	OpList      = "list"
	OpIncrement = "increment"
	OpExec      = "exec"
	OpQuery     = "query"
	OpClose     = "close"
)

// Prop returns the first non-empty component property among names. Names
// match without regard to case, as Dapr decodes component metadata.
func Prop(props map[string]string, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := props[n]; ok && v != "" {
			return v, true
		}
		for k, v := range props {
			if v != "" && strings.EqualFold(k, n) {
				return v, true
			}
		}
	}
	return "", false
}

// IsTruthy reports whether s is one of the values Dapr reads as true
// (y, yes, true, t, on, 1; any case, surrounding spaces ignored).
func IsTruthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "true", "t", "on", "1":
		return true
	}
	return false
}

// Supports reports whether out lists op among its operations.
func Supports(out Output, op string) bool {
	return slices.Contains(out.Operations(), op)
}

// ExplicitInput reports whether the component's `direction` metadata names
// "input". Such a binding delivers without asking the app first (no
// OPTIONS probe, no ListInputBindings check), as in daprd.
func ExplicitInput(props map[string]string) bool {
	v, _ := Prop(props, "direction")
	for d := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(d), "input") {
			return true
		}
	}
	return false
}

// InputRoute is the app path an input binding delivers to: its `route`
// metadata, or else the component name.
func InputRoute(name string, props map[string]string) string {
	if r, ok := Prop(props, "route"); ok {
		return r
	}
	return name
}
