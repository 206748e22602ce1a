package nameresolution

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config reads spec.nameResolution.configuration. Keys match
// case-insensitively, as Dapr decodes them, and values may arrive as YAML
// strings or JSON numbers.
type Config map[string]any

// Value returns the value of the first key present.
func (c Config) Value(keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := c[k]; ok {
			return v, true
		}
		for ck, v := range c {
			if strings.EqualFold(ck, k) {
				return v, true
			}
		}
	}
	return nil, false
}

// String returns the value of the first key present as a string, or def.
func (c Config) String(def string, keys ...string) (string, error) {
	v, ok := c.Value(keys...)
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, float64, float32, int, int64, json.Number:
		return fmt.Sprint(v), nil
	default:
		return "", fmt.Errorf("%s: expected a string, got %T", keys[0], v)
	}
}

// Duration returns the value of the first key present as a duration, or
// def. Strings are Go durations ("5s") or plain numbers; numbers are seconds.
func (c Config) Duration(def time.Duration, keys ...string) (time.Duration, error) {
	v, ok := c.Value(keys...)
	if !ok || v == nil {
		return def, nil
	}
	var secs float64
	switch v := v.(type) {
	case string:
		v = strings.TrimSpace(v)
		if v == "" {
			return def, nil
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d, nil
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a duration (like \"5s\") or a number of seconds", keys[0], v)
		}
		secs = f
	case float64:
		secs = v
	case float32:
		secs = float64(v)
	case int:
		secs = float64(v)
	case int64:
		secs = float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", keys[0], err)
		}
		secs = f
	default:
		return 0, fmt.Errorf("%s: expected a duration, got %T", keys[0], v)
	}
	if math.IsNaN(secs) || math.Abs(secs) > math.MaxInt64/float64(time.Second) {
		return 0, fmt.Errorf("%s: %v seconds is out of range", keys[0], secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// Bool returns the value of the first key present as a bool, or def.
func (c Config) Bool(def bool, keys ...string) (bool, error) {
	v, ok := c.Value(keys...)
	if !ok || v == nil {
		return def, nil
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return def, nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("%s: %q is not a boolean", keys[0], v)
		}
		return b, nil
	default:
		return false, fmt.Errorf("%s: expected a boolean, got %T", keys[0], v)
	}
}
