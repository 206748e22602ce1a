package query

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
)

// Match reports whether doc, a JSON value decoded by encoding/json into any
// (numbers as float64; json.Number is accepted too), satisfies f. A nil
// filter matches everything. Numbers compare numerically (1 equals 1.0);
// values of different JSON types are never equal.
func Match(f Filter, doc any) bool {
	switch f := f.(type) {
	case nil:
		return true
	case EQ:
		v, ok := lookup(doc, f.Key)
		return ok && compareJSON(v, f.Value) == 0
	case IN:
		v, ok := lookup(doc, f.Key)
		if !ok {
			return false
		}
		for _, want := range f.Values {
			if compareJSON(v, want) == 0 {
				return true
			}
		}
		return false
	case Compare:
		return matchCompare(f, doc)
	case AND:
		for _, sub := range f.Filters {
			if !Match(sub, doc) {
				return false
			}
		}
		return true
	case OR:
		for _, sub := range f.Filters {
			if Match(sub, doc) {
				return true
			}
		}
		return false
	default:
		return false
	}
}

func matchCompare(f Compare, doc any) bool {
	v, ok := lookup(doc, f.Key)
	if !ok {
		return false
	}
	if f.Op == OpNEQ {
		return compareJSON(v, f.Value) != 0
	}
	// Ordering only makes sense between values of one type; "10" > 9 is false
	// rather than decided by the cross-type order used for sorting.
	if kindOf(v) != kindOf(f.Value) {
		return false
	}
	c := compareJSON(v, f.Value)
	switch f.Op {
	case OpGT:
		return c > 0
	case OpGTE:
		return c >= 0
	case OpLT:
		return c < 0
	case OpLTE:
		return c <= 0
	}
	return false
}

// lookup follows a dot path through objects and arrays. It reports false
// when some segment is missing.
func lookup(doc any, key string) (any, bool) {
	cur := doc
	for _, seg := range splitKey(key) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := arrayIndex(seg, len(c))
			if !ok {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// arrayIndex reads seg as an array index the way PostgreSQL's #> does:
// a decimal integer, negative counting from the end.
func arrayIndex(seg string, n int) (int, bool) {
	digits := strings.TrimPrefix(seg, "-")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.Atoi(seg)
	if err != nil {
		return 0, false
	}
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// JSON type ranks, in the order PostgreSQL sorts jsonb values; sorting in Go
// uses the same order so every store returns the same page.
const (
	kindNull = iota
	kindString
	kindNumber
	kindBool
	kindArray
	kindObject
)

func kindOf(v any) int {
	switch v.(type) {
	case string:
		return kindString
	case float64, json.Number:
		return kindNumber
	case bool:
		return kindBool
	case []any:
		return kindArray
	case map[string]any:
		return kindObject
	default:
		return kindNull
	}
}

// compareJSON orders two decoded JSON values: first by type rank, then
// strings byte-wise, numbers numerically, false before true. Arrays and
// objects order by length, then by content; that order is deterministic
// but not meant to be meaningful.
func compareJSON(a, b any) int {
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb {
		return cmp.Compare(ka, kb)
	}
	switch ka {
	case kindString:
		return strings.Compare(a.(string), b.(string))
	case kindNumber:
		return cmp.Compare(number(a), number(b))
	case kindBool:
		return cmp.Compare(boolRank(a.(bool)), boolRank(b.(bool)))
	case kindArray:
		return compareArrays(a.([]any), b.([]any))
	case kindObject:
		return compareObjects(a.(map[string]any), b.(map[string]any))
	}
	return 0
}

func number(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return 0
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compareArrays(a, b []any) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	for i := range a {
		if c := compareJSON(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareObjects(a, b map[string]any) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	// encoding/json writes map keys sorted, so equal objects encode equally.
	ea, _ := json.Marshal(a)
	eb, _ := json.Marshal(b)
	return strings.Compare(string(ea), string(eb))
}
