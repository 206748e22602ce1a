package mqtt

import (
	"fmt"
	"strings"
)

// sharePrefix starts a shared subscription, "$share/<group>/<filter>":
// the broker gives each message to one member of the group.
const sharePrefix = "$share/"

// plainFilter strips the shared-subscription prefix: messages arrive with
// their own topic, which the remaining filter matches.
func plainFilter(filter string) string {
	rest, ok := strings.CutPrefix(filter, sharePrefix)
	if !ok {
		return filter
	}
	if _, f, ok := strings.Cut(rest, "/"); ok {
		return f
	}
	return filter
}

// validFilter checks MQTT filter syntax: '+' and '#' fill a whole level,
// '#' only the last one.
func validFilter(filter string) error {
	f := plainFilter(filter)
	if f == "" {
		return fmt.Errorf("invalid topic filter %q: empty", filter)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && len(l) > 1 {
			return fmt.Errorf("invalid topic filter %q: a wildcard must fill a whole level", filter)
		}
		if l == "#" && i != len(levels)-1 {
			return fmt.Errorf("invalid topic filter %q: '#' must be the last level", filter)
		}
	}
	return nil
}

// matches reports whether topic matches filter (without $share prefix).
func matches(filter, topic string) bool {
	if filter == topic {
		return true
	}
	// Wildcards at the first level do not match topics starting with '$'.
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range fl {
		if l == "#" {
			return true // also matches the parent level: "a/#" matches "a"
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}
