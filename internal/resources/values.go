package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// DynamicValue is a value written in YAML as any scalar, list or object,
// kept as JSON text exactly as parsed.
type DynamicValue struct {
	raw json.RawMessage
}

// NewDynamicValue wraps a Go value (a string, number, map …) as a DynamicValue.
func NewDynamicValue(v any) (DynamicValue, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return DynamicValue{}, fmt.Errorf("encode dynamic value: %w", err)
	}
	return DynamicValue{raw: b}, nil
}

// UnmarshalJSON keeps the raw JSON text.
func (v *DynamicValue) UnmarshalJSON(b []byte) error {
	v.raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON returns the raw JSON text (null when unset).
func (v DynamicValue) MarshalJSON() ([]byte, error) {
	if len(v.raw) == 0 {
		return []byte("null"), nil
	}
	return v.raw, nil
}

// Raw returns the JSON text; nil when the value was never set.
func (v DynamicValue) Raw() json.RawMessage { return v.raw }

// IsEmpty reports whether the value is absent, null or the empty string.
func (v DynamicValue) IsEmpty() bool { return v.String() == "" }

// String converts the value the way Dapr hands it to components: strings
// unquoted, numbers and booleans as their literal text, lists and objects as
// compact JSON, null as "".
func (v DynamicValue) String() string {
	raw := bytes.TrimSpace(v.raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// Duration is a duration as written in a resource: a Go duration string such
// as "5s", or an integer number of milliseconds.
type Duration string

// UnmarshalJSON accepts a string or a number.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*d = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Duration(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*d = Duration(b)
	default:
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Duration]()}
	}
	return nil
}

// Parse returns the duration; an empty value is 0.
func (d Duration) Parse() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	if ms, err := strconv.ParseInt(string(d), 10, 64); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 5s, 1m30s, or an integer number of milliseconds)", string(d))
	}
	return v, nil
}

// check reports a Duration field that does not parse or is negative.
func (d Duration) check(field string) *Error {
	v, err := d.Parse()
	if err != nil {
		return &Error{Field: field, Err: err}
	}
	if v < 0 {
		return fieldErr(field, "%q must not be negative", string(d))
	}
	return nil
}

// errs collects non-nil *Error values, skipping typed nils.
func errs(list ...*Error) []*Error {
	var out []*Error
	for _, e := range list {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// sortedKeys returns a map's keys in order, so error lists are stable.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
