package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Parse reads an alpha1 query document:
//
//	{"filter": {...}, "sort": [{"key": "k", "order": "ASC|DESC"}], "page": {"limit": N, "token": "..."}}
//
// Every part is optional ({} selects everything). Unknown top-level fields
// are ignored, as Dapr does. Errors are plain; callers wrap them.
func Parse(data []byte) (*Query, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("query is not a JSON object: %w", err)
	}
	if top == nil {
		return nil, fmt.Errorf("query is not a JSON object")
	}
	q := &Query{}
	var err error
	if raw, ok := present(top, "filter"); ok {
		if q.Filter, err = parseFilter(raw, "filter"); err != nil {
			return nil, err
		}
	}
	if raw, ok := present(top, "sort"); ok {
		if q.Sort, err = parseSort(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := present(top, "page"); ok {
		if q.Limit, q.Token, err = parsePage(raw); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// present returns the named member unless it is missing or JSON null.
func present(m map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := m[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	return raw, true
}

// parseFilter reads one filter node; where names it in error messages
// (e.g. "filter.AND[1]").
func parseFilter(raw json.RawMessage, where string) (Filter, error) {
	var node map[string]json.RawMessage
	if err := json.Unmarshal(raw, &node); err != nil || node == nil {
		return nil, fmt.Errorf("%s: must be an object with one operator", where)
	}
	if len(node) != 1 {
		ops := make([]string, 0, len(node))
		for op := range node {
			ops = append(ops, op)
		}
		slices.Sort(ops)
		return nil, fmt.Errorf("%s: must have exactly one operator, got %d (%s)", where, len(ops), strings.Join(ops, ", "))
	}
	op, body := only(node)
	f, err := parseOp(op, body, where)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parseOp reads the operand of one operator.
func parseOp(op string, body json.RawMessage, where string) (Filter, error) {
	at := where + "." + op
	switch op {
	case "EQ":
		key, v, err := parseKeyValue(body, at, false)
		return EQ{Key: key, Value: v}, err
	case OpNEQ:
		key, v, err := parseKeyValue(body, at, false)
		return Compare{Op: op, Key: key, Value: v}, err
	case OpGT, OpGTE, OpLT, OpLTE:
		key, v, err := parseKeyValue(body, at, true)
		return Compare{Op: op, Key: key, Value: v}, err
	case "IN":
		return parseIN(body, at)
	case "AND":
		fs, err := parseFilters(body, at)
		return AND{Filters: fs}, err
	case "OR":
		fs, err := parseFilters(body, at)
		return OR{Filters: fs}, err
	default:
		return nil, fmt.Errorf("%s: unknown operator %q (want EQ, NEQ, GT, GTE, LT, LTE, IN, AND or OR)", where, op)
	}
}

// only returns the member of a one-member object.
func only(m map[string]json.RawMessage) (string, json.RawMessage) {
	for k, v := range m {
		return k, v
	}
	return "", nil
}

// singleMember reads an operand of the form {"<key>": <value>}.
func singleMember(body json.RawMessage, where string) (string, json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return "", nil, fmt.Errorf("%s: must be an object {\"<key>\": <value>}", where)
	}
	if len(m) != 1 {
		return "", nil, fmt.Errorf("%s: must have exactly one key, got %d", where, len(m))
	}
	key, v := only(m)
	if err := checkKey(key); err != nil {
		return "", nil, fmt.Errorf("%s: %w", where, err)
	}
	return key, v, nil
}

// parseKeyValue reads {"<key>": <scalar>}. ordered restricts the value to
// numbers and strings, the only types GT/GTE/LT/LTE compare.
func parseKeyValue(body json.RawMessage, where string, ordered bool) (string, any, error) {
	key, raw, err := singleMember(body, where)
	if err != nil {
		return "", nil, err
	}
	v, err := scalar(raw)
	if err != nil {
		return "", nil, fmt.Errorf("%s: value for key %q: %w", where, key, err)
	}
	if ordered {
		switch v.(type) {
		case float64, string:
		default:
			return "", nil, fmt.Errorf("%s: value for key %q must be a number or a string", where, key)
		}
	}
	return key, v, nil
}

func parseIN(body json.RawMessage, where string) (Filter, error) {
	key, raw, err := singleMember(body, where)
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s: value for key %q must be an array", where, key)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: value for key %q must have at least one element", where, key)
	}
	vals := make([]any, len(items))
	for i, it := range items {
		if vals[i], err = scalar(it); err != nil {
			return nil, fmt.Errorf("%s: element %d for key %q: %w", where, i, key, err)
		}
	}
	return IN{Key: key, Values: vals}, nil
}

// parseFilters reads the operand of AND/OR: an array of at least two
// filters, the minimum Dapr enforces.
func parseFilters(body json.RawMessage, where string) ([]Filter, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s: must be an array of filters", where)
	}
	if len(items) < 2 {
		return nil, fmt.Errorf("%s: must have at least two filters, got %d", where, len(items))
	}
	fs := make([]Filter, len(items))
	for i, it := range items {
		f, err := parseFilter(it, fmt.Sprintf("%s[%d]", where, i))
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	return fs, nil
}

// scalar decodes a JSON string, number, boolean or null.
func scalar(raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, string, float64, bool:
		return v, nil
	default:
		return nil, fmt.Errorf("must be a string, number, boolean or null")
	}
}

func parseSort(raw json.RawMessage) ([]Sort, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("sort: must be an array")
	}
	out := make([]Sort, 0, len(items))
	for i, it := range items {
		// Field names match case-insensitively, as Dapr's decoding does.
		var s struct {
			Key   string `json:"key"`
			Order string `json:"order"`
		}
		if err := json.Unmarshal(it, &s); err != nil {
			return nil, fmt.Errorf("sort[%d]: must be an object {\"key\": \"...\", \"order\": \"ASC|DESC\"}", i)
		}
		if err := checkKey(s.Key); err != nil {
			return nil, fmt.Errorf("sort[%d]: %w", i, err)
		}
		var desc bool
		switch strings.ToUpper(s.Order) {
		case "", "ASC":
		case "DESC":
			desc = true
		default:
			return nil, fmt.Errorf("sort[%d]: invalid order %q (want ASC or DESC)", i, s.Order)
		}
		out = append(out, Sort{Key: s.Key, Desc: desc})
	}
	return out, nil
}

func parsePage(raw json.RawMessage) (int, string, error) {
	var p struct {
		Limit *json.Number `json:"limit"`
		Token *string      `json:"token"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return 0, "", fmt.Errorf("page: must be an object {\"limit\": <integer>, \"token\": \"<string>\"}: %w", err)
	}
	var limit int64
	if p.Limit != nil {
		n, err := p.Limit.Int64()
		if err != nil {
			return 0, "", fmt.Errorf("page.limit: %s is not an integer", p.Limit)
		}
		if n < 0 {
			return 0, "", fmt.Errorf("page.limit: must not be negative, got %d", n)
		}
		// Keeps limit+1 (used to detect a further page) from overflowing.
		if n > math.MaxInt32 {
			return 0, "", fmt.Errorf("page.limit: %d is too large", n)
		}
		limit = n
	}
	var token string
	if p.Token != nil {
		token = *p.Token
	}
	return int(limit), token, nil
}
