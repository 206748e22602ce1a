package localfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// load parses the file's JSON object into secrets. Without multiValued
// every leaf becomes its own single-key secret named by its path joined
// with sep ("db:password"). With multiValued each top-level member is a
// secret: an object or array gives one key per leaf (deeper levels joined
// with sep), a scalar gives the single key of its own name.
func load(raw []byte, sep string, multiValued bool) (map[string]map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	// Numbers keep their literal text (no float64 rounding).
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if top == nil {
		return nil, errors.New("not a JSON object: null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	out := map[string]map[string]string{}
	for name, v := range top {
		if !multiValued {
			for k, leaf := range flatten(name, v, sep) {
				out[k] = map[string]string{k: leaf}
			}
			continue
		}
		if isContainer(v) {
			out[name] = flatten("", v, sep)
		} else {
			out[name] = map[string]string{name: scalar(v)}
		}
	}
	return out, nil
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// flatten turns v into path → text, paths starting at prefix.
func flatten(prefix string, v any, sep string) map[string]string {
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + sep + k
		}
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				walk(join(k), child)
			}
		case []any:
			for i, child := range x {
				walk(join(strconv.Itoa(i)), child)
			}
		default:
			out[path] = scalar(x)
		}
	}
	walk(prefix, v)
	return out
}

// scalar renders a JSON leaf as a secret value: strings unquoted, numbers
// and booleans as their literal text, null as "".
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
