package query

import (
	"cmp"
	"encoding/json"
	"slices"
)

// Item is one stored key/value, as given to Execute and returned by it.
type Item struct {
	Key  string
	Data []byte
	ETag string
}

// Execute runs q over items in Go, for stores without a query engine.
//
// Each item's Data is decoded as JSON; items that are not JSON objects never
// match a non-nil filter. Results are ordered by q.Sort (missing values
// first in ascending order, then JSON null, strings, numbers, booleans,
// arrays, objects), ties broken by Key. The page starts at the offset in
// q.Token and holds at most q.Limit items (all when 0); next is the token of
// the following page, or "" when there is none. A nil q selects everything.
func Execute(q *Query, items []Item) (page []Item, next string, err error) {
	if q == nil {
		q = &Query{}
	}
	offset, err := q.Offset()
	if err != nil {
		return nil, "", err
	}
	rows := selectRows(q, items)
	sortRows(rows, q.Sort)
	if offset >= len(rows) {
		return []Item{}, "", nil
	}
	n := len(rows) - offset
	if q.Limit > 0 && q.Limit < n {
		n = q.Limit
	}
	page = make([]Item, n)
	for i := range page {
		page[i] = rows[offset+i].item
	}
	return page, nextToken(offset, n, len(rows)), nil
}

// row is an item that passed the filter, with its sort values extracted.
type row struct {
	item    Item
	sortVal []any
	has     []bool // has[i] is false when sort key i is missing
}

// selectRows filters items in key order, decoding each value once.
func selectRows(q *Query, items []Item) []row {
	sorted := slices.Clone(items)
	// Key order first, so ties in the sort come out the same on every call.
	slices.SortStableFunc(sorted, func(a, b Item) int { return cmp.Compare(a.Key, b.Key) })
	needDoc := q.Filter != nil || len(q.Sort) > 0
	rows := make([]row, 0, len(sorted))
	for _, it := range sorted {
		var doc any
		if needDoc && json.Unmarshal(it.Data, &doc) != nil {
			doc = nil
		}
		if q.Filter != nil {
			if _, isObject := doc.(map[string]any); !isObject || !Match(q.Filter, doc) {
				continue
			}
		}
		r := row{item: it, sortVal: make([]any, len(q.Sort)), has: make([]bool, len(q.Sort))}
		for i, s := range q.Sort {
			r.sortVal[i], r.has[i] = lookup(doc, s.Key)
		}
		rows = append(rows, r)
	}
	return rows
}

func sortRows(rows []row, sorts []Sort) {
	if len(sorts) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		for i, s := range sorts {
			c := compareSortValue(a.sortVal[i], a.has[i], b.sortVal[i], b.has[i])
			if s.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// compareSortValue orders a missing value before any present one.
func compareSortValue(a any, hasA bool, b any, hasB bool) int {
	switch {
	case !hasA && !hasB:
		return 0
	case !hasA:
		return -1
	case !hasB:
		return 1
	}
	return compareJSON(a, b)
}
