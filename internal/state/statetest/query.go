package statetest

import (
	"slices"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
)

// queryDocs are the documents the query subtests search; names are
// mapped to stored keys under a prefix private to the Query subtest.
var queryDocs = []struct{ name, doc string }{
	{"seattle", `{"person":{"org":"Dev Ops","id":1036},"city":"Seattle","state":"WA"}`},
	{"portland", `{"person":{"org":"Hardware","id":1028},"city":"Portland","state":"OR"}`},
	{"sacramento", `{"person":{"org":"Finance","id":1071},"city":"Sacramento","state":"CA"}`},
	{"spokane", `{"person":{"org":"Dev Ops","id":1042},"city":"Spokane","state":"WA"}`},
	{"losangeles", `{"person":{"org":"Hardware","id":1007},"city":"Los Angeles","state":"CA"}`},
	{"sanfrancisco", `{"person":{"org":"Finance","id":1094},"city":"San Francisco","state":"CA"}`},
}

var byID = []query.Sort{{Key: "person.id"}}

// queryCases list expected results by doc name, in order.
var queryCases = []struct {
	name string
	q    query.Query
	want []string
}{
	{"all-sorted-asc", query.Query{Sort: byID},
		[]string{"losangeles", "portland", "seattle", "spokane", "sacramento", "sanfrancisco"}},
	{"all-sorted-desc", query.Query{Sort: []query.Sort{{Key: "person.id", Desc: true}}},
		[]string{"sanfrancisco", "sacramento", "spokane", "seattle", "portland", "losangeles"}},
	{"multi-key-sort", query.Query{Sort: []query.Sort{{Key: "state"}, {Key: "person.id", Desc: true}}},
		[]string{"sanfrancisco", "sacramento", "losangeles", "portland", "spokane", "seattle"}},
	{"eq", query.Query{Filter: query.EQ{Key: "state", Value: "CA"}, Sort: byID},
		[]string{"losangeles", "sacramento", "sanfrancisco"}},
	{"eq-nested", query.Query{Filter: query.EQ{Key: "person.org", Value: "Dev Ops"}, Sort: byID},
		[]string{"seattle", "spokane"}},
	{"eq-no-match", query.Query{Filter: query.EQ{Key: "state", Value: "NY"}, Sort: byID},
		nil},
	{"in", query.Query{Filter: query.IN{Key: "state", Values: []any{"CA", "OR"}}, Sort: byID},
		[]string{"losangeles", "portland", "sacramento", "sanfrancisco"}},
	{"and", query.Query{Filter: query.AND{Filters: []query.Filter{
		query.EQ{Key: "state", Value: "CA"},
		query.EQ{Key: "person.org", Value: "Finance"},
	}}, Sort: byID},
		[]string{"sacramento", "sanfrancisco"}},
	{"or", query.Query{Filter: query.OR{Filters: []query.Filter{
		query.EQ{Key: "state", Value: "WA"},
		query.EQ{Key: "person.org", Value: "Hardware"},
	}}, Sort: byID},
		[]string{"losangeles", "portland", "seattle", "spokane"}},
	{"and-with-in-and-or", query.Query{Filter: query.AND{Filters: []query.Filter{
		query.IN{Key: "person.org", Values: []any{"Dev Ops", "Finance"}},
		query.OR{Filters: []query.Filter{
			query.EQ{Key: "city", Value: "Seattle"},
			query.EQ{Key: "state", Value: "CA"},
		}},
	}}, Sort: byID},
		[]string{"seattle", "sacramento", "sanfrancisco"}},
}

func (h *harness) testQuery(t *testing.T) {
	h.require(t, state.FeatureQueryAPI)
	qs, ok := h.store.(state.Querier)
	if !ok {
		t.Fatal("store advertises QUERY_API but does not implement state.Querier")
	}
	// A private prefix keeps keys of other subtests out of the results.
	prefix := newPrefix(t)
	keys := map[string]string{} // doc name → stored key
	docs := map[string][]byte{} // stored key → document
	for _, d := range queryDocs {
		k := h.keyUnder(t, prefix, d.name)
		keys[d.name], docs[k] = k, []byte(d.doc)
		h.mustSet(t, k, []byte(d.doc))
	}
	// Opaque bytes are not JSON documents: queries must skip them.
	h.mustSet(t, h.keyUnder(t, prefix, "binary"), []byte{0xff, 0x00, 0x01}, binary())

	run := func(t *testing.T, q query.Query) []state.QueryItem {
		t.Helper()
		res, err := qs.Query(ctx(t), state.QueryRequest{Query: &q, KeyPrefix: prefix})
		if err != nil {
			t.Fatalf("Query(%+v, prefix %q): %v", q, prefix, err)
		}
		return res.Results
	}
	for _, c := range queryCases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, c.q)
			h.checkQueryResults(t, c.q, got, storedKeys(keys, c.want), docs)
		})
	}
	t.Run("paging", func(t *testing.T) { h.queryPaging(t, qs, prefix, keys, docs) })
}

func storedKeys(keys map[string]string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = keys[n]
	}
	return out
}

func resultKeys(items []state.QueryItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Key
	}
	return out
}

// checkQueryResults compares result keys in order and each result's data.
func (h *harness) checkQueryResults(t *testing.T, q query.Query, got []state.QueryItem, want []string, docs map[string][]byte) {
	t.Helper()
	if gk := resultKeys(got); !slices.Equal(gk, want) {
		t.Errorf("Query(%+v) keys =\n  %q\nwant\n  %q", q, gk, want)
	}
	for _, it := range got {
		doc, ok := docs[it.Key]
		if !ok {
			continue // already reported as an unexpected key
		}
		if !sameJSON(it.Data, doc) {
			t.Errorf("Query result %q data = %s, want %s", it.Key, show(it.Data), show(doc))
		}
		if h.has(state.FeatureETag) && it.ETag == "" {
			t.Errorf("Query result %q: empty ETag from a store advertising ETAG", it.Key)
		}
	}
}

// queryPaging walks all pages of limit 2 and expects the full sorted list.
func (h *harness) queryPaging(t *testing.T, qs state.Querier, prefix string, keys map[string]string, docs map[string][]byte) {
	const limit, maxPages = 2, 10
	want := storedKeys(keys, queryCases[0].want) // all, sorted by person.id
	var got []state.QueryItem
	token := ""
	for page := 0; ; page++ {
		if page == maxPages {
			t.Fatalf("paging: still returning a token after %d pages (last %q)", maxPages, token)
		}
		q := query.Query{Sort: byID, Limit: limit, Token: token}
		res, err := qs.Query(ctx(t), state.QueryRequest{Query: &q, KeyPrefix: prefix})
		if err != nil {
			t.Fatalf("Query page %d (token %q): %v", page, token, err)
		}
		if len(res.Results) > limit {
			t.Errorf("Query page %d: %d results, want at most %d", page, len(res.Results), limit)
		}
		got = append(got, res.Results...)
		if res.Token == "" || len(res.Results) == 0 {
			break
		}
		if res.Token == token {
			t.Fatalf("Query page %d: token %q did not advance", page, token)
		}
		token = res.Token
	}
	h.checkQueryResults(t, query.Query{Sort: byID, Limit: limit}, got, want, docs)
}
