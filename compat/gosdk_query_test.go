package compat

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
)

// queryDocs are the documents the query scenarios search, keyed by a
// suffix; "run" isolates them from other scenarios' values.
func queryDocs(run string) map[string]map[string]any {
	doc := func(city string, n int, org string) map[string]any {
		return map[string]any{"run": run, "city": city, "n": n, "person": map[string]any{"org": org}}
	}
	return map[string]map[string]any{
		"k1": doc("Oslo", 1, "dev"),
		"k2": doc("Lima", 2, "ops"),
		"k3": doc("Oslo", 3, "ops"),
		"k4": doc("Kyiv", 4, "dev"),
		"k5": doc("Lima", 5, "dev"),
	}
}

// queryCases are filters ANDed with {"EQ":{"run":<run>}}. want lists key
// suffixes; ordered cases have a sort and must match the order exactly.
var queryCases = []struct {
	name    string
	filter  string // %s is the run's EQ clause
	sort    string
	want    []string
	ordered bool
}{
	{"EQ", `{"AND":[%s,{"EQ":{"city":"Oslo"}}]}`, ``, []string{"k1", "k3"}, false},
	{"EQ-nested", `{"AND":[%s,{"EQ":{"person.org":"ops"}}]}`, ``, []string{"k2", "k3"}, false},
	{"IN", `{"AND":[%s,{"IN":{"city":["Lima","Kyiv"]}}]}`, ``, []string{"k2", "k4", "k5"}, false},
	{"OR", `{"AND":[%s,{"OR":[{"EQ":{"city":"Kyiv"}},{"EQ":{"person.org":"ops"}}]}]}`, ``, []string{"k2", "k3", "k4"}, false},
	{"sort-desc", `%s`, `[{"key":"n","order":"DESC"}]`, []string{"k5", "k4", "k3", "k2", "k1"}, true},
	{"sort-two-keys", `%s`, `[{"key":"city"},{"key":"n","order":"DESC"}]`, []string{"k4", "k5", "k2", "k3", "k1"}, true},
}

func goQuery(t *testing.T, e *goEnv) {
	ctx := callCtx(t)
	run := "q-" + uniq(t)
	docs := queryDocs(run)
	// gRPC values are bytes; daprd stores them as JSON documents, which the
	// query API can search, only when the item says contentType JSON.
	asJSON := map[string]string{"contentType": "application/json"}
	var items []*dapr.SetStateItem
	for suffix, d := range docs {
		b, _ := json.Marshal(d)
		items = append(items, &dapr.SetStateItem{Key: run + "-" + suffix, Value: b, Metadata: asJSON})
	}
	// Documents every filter must leave out: one of another run, and one
	// saved as plain bytes, which stores keep as binary and never match.
	items = append(items,
		&dapr.SetStateItem{Key: run + "-decoy", Value: []byte(`{"run":"other","city":"Oslo","n":9}`), Metadata: asJSON},
		&dapr.SetStateItem{Key: run + "-binary", Value: fmt.Appendf(nil, `{"run":%q,"city":"Oslo","n":0}`, run)},
	)
	if err := e.c.SaveBulkState(ctx, storeName, items...); err != nil {
		t.Fatalf("SaveBulkState: %v", err)
	}
	runEQ := fmt.Sprintf(`{"EQ":{"run":%q}}`, run)

	for _, qc := range queryCases {
		t.Run(qc.name, func(t *testing.T) {
			q := `{"filter":` + fmt.Sprintf(qc.filter, runEQ)
			if qc.sort != "" {
				q += `,"sort":` + qc.sort
			}
			q += `}`
			resp, err := e.c.QueryStateAlpha1(callCtx(t), storeName, q, nil)
			if err != nil {
				t.Fatalf("QueryStateAlpha1(%s): %v", q, err)
			}
			got := goCheckResults(t, run, docs, resp.Results)
			want := prefixed(run, qc.want)
			if !qc.ordered {
				slices.Sort(got)
			}
			if !slices.Equal(got, want) {
				t.Errorf("QueryStateAlpha1(%s) keys = %v, want %v", q, got, want)
			}
		})
	}

	t.Run("malformed", func(t *testing.T) {
		// An unknown operator is a query error: ERR_STATE_QUERY, gRPC Internal.
		_, err := e.c.QueryStateAlpha1(callCtx(t), storeName, `{"filter":{"LIKE":{"city":"O%"}}}`, nil)
		wantCode(t, "QueryStateAlpha1 with an unknown operator", err, codes.Internal)
	})

	t.Run("paging", func(t *testing.T) {
		got, pages := goQueryPages(t, e, runEQ, 2)
		want := prefixed(run, []string{"k1", "k2", "k3", "k4", "k5"})
		if !slices.Equal(got, want) {
			t.Errorf("paged query keys = %v, want %v", got, want)
		}
		if pages < 3 {
			t.Errorf("paged query with limit 2 over 5 documents took %d pages, want at least 3", pages)
		}
	})
}

// goQueryPages follows page tokens until the store stops returning one (or
// returns nothing), checking each page respects the limit.
func goQueryPages(t *testing.T, e *goEnv, filter string, limit int) (keys []string, pages int) {
	t.Helper()
	token := ""
	for pages < 10 {
		page := fmt.Sprintf(`{"limit":%d}`, limit)
		if token != "" {
			page = fmt.Sprintf(`{"limit":%d,"token":%q}`, limit, token)
		}
		q := `{"filter":` + filter + `,"sort":[{"key":"n"}],"page":` + page + `}`
		resp, err := e.c.QueryStateAlpha1(callCtx(t), storeName, q, nil)
		if err != nil {
			t.Fatalf("QueryStateAlpha1(%s): %v", q, err)
		}
		pages++
		if len(resp.Results) > limit {
			t.Errorf("page %d has %d results, limit %d", pages, len(resp.Results), limit)
		}
		for _, r := range resp.Results {
			keys = append(keys, r.Key)
		}
		if resp.Token == "" || len(resp.Results) == 0 {
			return keys, pages
		}
		if resp.Token == token {
			t.Fatalf("page %d returned the same token %q again", pages, token)
		}
		token = resp.Token
	}
	t.Fatalf("paging did not end after %d pages (keys so far %v)", pages, keys)
	return nil, 0
}

// goCheckResults checks each result's data and etag and returns the keys.
func goCheckResults(t *testing.T, run string, docs map[string]map[string]any, results []dapr.QueryItem) []string {
	t.Helper()
	var keys []string
	for _, r := range results {
		keys = append(keys, r.Key)
		if r.Error != "" {
			t.Errorf("result %q error %q", r.Key, r.Error)
		}
		if r.Etag == "" {
			t.Errorf("result %q has no etag", r.Key)
		}
		suffix, _ := strings.CutPrefix(r.Key, run+"-")
		want, ok := docs[suffix]
		if !ok {
			t.Errorf("unexpected result key %q (documents: %v)", r.Key, slices.Sorted(maps.Keys(docs)))
			continue
		}
		var got any
		if err := json.Unmarshal(r.Value, &got); err != nil {
			t.Errorf("result %q data %q is not JSON: %v", r.Key, r.Value, err)
			continue
		}
		if !reflect.DeepEqual(got, normalize(want)) {
			t.Errorf("result %q data = %s, want %v", r.Key, r.Value, want)
		}
	}
	return keys
}

// normalize round-trips v through JSON so numbers compare as float64.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func prefixed(run string, suffixes []string) []string {
	out := make([]string, len(suffixes))
	for i, s := range suffixes {
		out[i] = run + "-" + s
	}
	return out
}
