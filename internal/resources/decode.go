package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// parseYAML turns one YAML document into generic JSON values (maps, lists,
// json.Number, strings, bools, nil). firstLine is the document's line in its
// file: the text is shifted down so YAML syntax errors quote file lines.
func parseYAML(doc []byte, firstLine int) (any, error) {
	padded := append(bytes.Repeat([]byte("\n"), firstLine-1), doc...)
	js, err := yaml.YAMLToJSON(padded)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("convert YAML to JSON: %w", err)
	}
	return v, nil
}

// decodeValue decodes a generic value into out (a pointer to a struct).
// Like Dapr's YAML loading, numbers and booleans given for string fields are
// taken as their text; other type mismatches are reported with their full
// path (spec.metadata[2].name), all of them, rather than just the first.
// Keys matching no field are ignored, as in Dapr, and returned as paths so
// the caller can warn about likely typos.
func decodeValue(v any, out any) (unknown []string, problems []*Error) {
	w := &walker{}
	v = w.coerce(v, reflect.TypeOf(out).Elem(), "")
	if len(w.problems) > 0 {
		return w.unknown, w.problems
	}
	b, err := json.Marshal(v)
	if err != nil {
		return w.unknown, errs(&Error{Err: fmt.Errorf("re-encode document: %w", err)})
	}
	if err := json.Unmarshal(b, out); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return w.unknown, errs(fieldErr(te.Field, "want %s, got %s", describeType(te.Type), te.Value))
		}
		return w.unknown, errs(&Error{Err: err})
	}
	return w.unknown, nil
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
)

// walker walks a generic value alongside a Go type, converting scalars for
// string targets and collecting type mismatches and unknown keys.
type walker struct {
	problems []*Error
	unknown  []string
}

func (w *walker) fail(path string, t reflect.Type, v any) any {
	w.problems = append(w.problems, mismatch(path, t, v))
	return v
}

func (w *walker) coerce(v any, t reflect.Type, path string) any {
	if v == nil {
		return nil
	}
	if t == durationType {
		switch v.(type) {
		case string, json.Number:
			return v
		}
		return w.fail(path, t, v)
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return v // the type decodes itself (DynamicValue and friends)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.coerce(v, t.Elem(), path)
	case reflect.String:
		return w.coerceString(v, t, path)
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return w.fail(path, t, v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n, ok := v.(json.Number); !ok || strings.ContainsAny(string(n), ".eE") {
			return w.fail(path, t, v)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return w.fail(path, t, v)
		}
	case reflect.Slice:
		return w.coerceSlice(v, t, path)
	case reflect.Map:
		return w.coerceMap(v, t, path)
	case reflect.Struct:
		return w.coerceStruct(v, t, path)
	}
	return v
}

func (w *walker) coerceString(v any, t reflect.Type, path string) any {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return w.fail(path, t, v)
}

func (w *walker) coerceSlice(v any, t reflect.Type, path string) any {
	list, ok := v.([]any)
	if !ok {
		return w.fail(path, t, v)
	}
	for i, item := range list {
		list[i] = w.coerce(item, t.Elem(), indexPath(path, i))
	}
	return list
}

func (w *walker) coerceMap(v any, t reflect.Type, path string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return w.fail(path, t, v)
	}
	for _, k := range sortedKeys(m) {
		m[k] = w.coerce(m[k], t.Elem(), joinPath(path, k))
	}
	return m
}

func (w *walker) coerceStruct(v any, t reflect.Type, path string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return w.fail(path, t, v)
	}
	for _, k := range sortedKeys(m) {
		f, ok := fieldFor(t, k)
		if !ok {
			w.unknown = append(w.unknown, joinPath(path, k))
			continue
		}
		m[k] = w.coerce(m[k], f.Type, joinPath(path, k))
	}
	return m
}

// fieldFor finds the struct field encoding/json would fill for key: an exact
// tag match first, then a case-insensitive one. Decoded types do not embed
// structs, so a flat scan is enough.
func fieldFor(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if !found && strings.EqualFold(name, key) {
			fold, found = f, true
		}
	}
	return fold, found
}

func mismatch(path string, t reflect.Type, v any) *Error {
	return fieldErr(path, "want %s, got %s", describeType(t), describeValue(v))
}

func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", x)
	case json.Number:
		return "the number " + string(x)
	case bool:
		return fmt.Sprintf("%t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%v", v)
}
