// Package redisconf parses the connection metadata that Dapr's Redis
// components share (redisHost, redisPassword, enableTLS, redisType, pool and
// retry settings, …) into go-redis options, so every Redis component reads
// those keys the same way. Component-specific keys stay in the component.
package redisconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Props is a case-insensitive view of component metadata, because Dapr
// matches metadata names without regard to case. Values are trimmed.
type Props map[string]string

// NewProps builds the view.
func NewProps(in map[string]string) Props {
	p := make(Props, len(in))
	for k, v := range in {
		p[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return p
}

// Str returns the first non-empty value among keys.
func (p Props) Str(keys ...string) string {
	for _, k := range keys {
		if v := p[strings.ToLower(k)]; v != "" {
			return v
		}
	}
	return ""
}

// Int parses the first non-empty value among keys, or returns def.
func (p Props) Int(def int, keys ...string) (int, error) {
	v := p.Str(keys...)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("metadata %s: %q is not an integer", keys[0], v)
	}
	return n, nil
}

// Bool parses key, false when absent.
func (p Props) Bool(key string) (bool, error) {
	v := p.Str(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("metadata %s: %q is not a boolean", key, v)
	}
	return b, nil
}

// Duration parses Dapr's Redis duration format: a plain integer is
// milliseconds (negative integers are kept as-is, since go-redis reads -1 as
// "disabled"), anything else is a Go duration string.
func (p Props) Duration(def time.Duration, key string) (time.Duration, error) {
	v := p.Str(key)
	if v == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return time.Duration(n), nil
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("metadata %s: %q is not a duration", key, v)
	}
	return d, nil
}
