package storeutil

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prop looks a metadata key up case-insensitively, trying each alias in
// turn, as Dapr's metadata decoder does. An exact match wins over one that
// differs in case.
func Prop(props map[string]string, names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := props[n]; ok {
			return v, true
		}
		for k, v := range props {
			if strings.EqualFold(k, n) {
				return v, true
			}
		}
	}
	return "", false
}

// DurationProp reads a duration (see ParseDuration) under the first of
// names present; def when none is present or the value is blank.
func DurationProp(props map[string]string, def time.Duration, names ...string) (time.Duration, error) {
	v, ok := Prop(props, names...)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid value for '%s': %q is neither a duration nor a number of seconds", names[0], v)
	}
	return d, nil
}

// ParseDuration accepts a Go duration ("90s") or a plain number of
// seconds, as Dapr's metadata decoder does.
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// ValidIdentifier accepts the schema and table names that are safe to
// splice into SQL unquoted: letters, digits and '_'.
func ValidIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b != '_' && (b < '0' || b > '9') && (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') {
			return false
		}
	}
	return true
}
