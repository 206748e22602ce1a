// Package query parses Dapr's alpha1 state query language and evaluates it,
// either in Go over decoded JSON values (for stores without a query engine)
// or by translating it to SQL (for stores that have one).
//
// Keys in filters and sorts are dot paths into the stored JSON value, as in
// Dapr ("person.org" reads {"person":{"org":…}}). Like Dapr's own stores, a
// leading "value." is not special: it names a field called "value". A path
// segment that is an integer indexes an array (negative counts from the
// end), matching PostgreSQL's #> operator.
package query

import (
	"fmt"
	"strconv"
	"strings"
)

// Query is a parsed state query.
type Query struct {
	Filter Filter // nil matches everything
	Sort   []Sort
	Limit  int    // 0 = no limit
	Token  string // opaque continuation token from a previous page
}

// Filter is one of EQ, IN, AND, OR or Compare. Parse returns them as values,
// not pointers.
type Filter interface{ isFilter() }

// EQ matches when the value at Key (a dot path into the JSON value) equals Value.
type EQ struct {
	Key   string
	Value any // decoded JSON scalar: string, float64, bool or nil
}

// IN matches when the value at Key equals one of Values.
type IN struct {
	Key    string
	Values []any
}

// AND matches when every filter matches.
type AND struct{ Filters []Filter }

// OR matches when any filter matches.
type OR struct{ Filters []Filter }

// Compare is one of Dapr's comparison operators NEQ, GT, GTE, LT and LTE.
//
// NEQ matches when the value at Key exists and differs from Value (a missing
// key does not match, as in SQL). GT/GTE/LT/LTE take a number or a string and
// match only values of the same JSON type: numbers compare numerically,
// strings byte-wise.
type Compare struct {
	Op    string // NEQ, GT, GTE, LT or LTE
	Key   string
	Value any // decoded JSON scalar; a float64 or string for GT/GTE/LT/LTE
}

// Comparison operator names, as spelled in the query JSON.
const (
	OpNEQ = "NEQ"
	OpGT  = "GT"
	OpGTE = "GTE"
	OpLT  = "LT"
	OpLTE = "LTE"
)

func (EQ) isFilter()      {}
func (IN) isFilter()      {}
func (AND) isFilter()     {}
func (OR) isFilter()      {}
func (Compare) isFilter() {}

// Sort orders results by the value at Key.
type Sort struct {
	Key  string
	Desc bool
}

// Offset returns the position in the sorted result where this page starts:
// the token is the decimal offset produced by a previous page ("" = 0).
func (q *Query) Offset() (int, error) {
	if q == nil || q.Token == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Token)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid page token %q: want a non-negative integer", q.Token)
	}
	return n, nil
}

// nextToken returns the token of the page after one that started at offset
// and showed shown of total results: "" when nothing follows.
func nextToken(offset, shown, total int) string {
	if offset+shown >= total {
		return ""
	}
	return strconv.Itoa(offset + shown)
}

// splitKey turns a dot path into its segments. Parse has already checked
// that no segment is empty.
func splitKey(key string) []string { return strings.Split(key, ".") }

// checkKey rejects keys that cannot name a field.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key")
	}
	for _, seg := range splitKey(key) {
		if seg == "" {
			return fmt.Errorf("invalid key %q: empty path segment", key)
		}
	}
	return nil
}
