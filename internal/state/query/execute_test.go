package query

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// employees is the data set of Dapr's query how-to, trimmed, plus a few odd
// values to exercise type ordering and skipping.
var employees = []Item{
	{Key: "1", Data: []byte(`{"person":{"org":"Dev Ops","id":1036},"city":"San Francisco","state":"CA"}`), ETag: "e1"},
	{Key: "2", Data: []byte(`{"person":{"org":"Hardware","id":1028},"city":"Portland","state":"OR"}`), ETag: "e2"},
	{Key: "3", Data: []byte(`{"person":{"org":"Finance","id":1071},"city":"Sacramento","state":"CA"}`), ETag: "e3"},
	{Key: "4", Data: []byte(`{"person":{"org":"Dev Ops","id":1042},"city":"Spokane","state":"WA"}`), ETag: "e4"},
	{Key: "5", Data: []byte(`{"person":{"org":"Hardware","id":1007},"city":"Los Angeles","state":"CA"}`), ETag: "e5"},
	{Key: "6", Data: []byte(`{"person":{"org":"Finance","id":1094},"city":"Seattle","state":"WA"}`), ETag: "e6"},
	{Key: "7", Data: []byte(`{"person":{"org":"Dev Ops","id":1015.0},"city":"San Diego","state":"CA"}`), ETag: "e7"},
	{Key: "8", Data: []byte(`{"person":{"org":"Finance"},"city":"Denver","state":null}`), ETag: "e8"},
	{Key: "9", Data: []byte(`"just a string"`), ETag: "e9"},
	{Key: "10", Data: []byte(`not json`), ETag: "e10"},
	{Key: "11", Data: []byte(`[{"state":"CA"}]`), ETag: "e11"},
}

func keys(items []Item) string {
	ks := make([]string, len(items))
	for i, it := range items {
		ks[i] = it.Key
	}
	return strings.Join(ks, ",")
}

func mustParse(t *testing.T, s string) *Query {
	t.Helper()
	q, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return q
}

func TestExecute(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		wantKeys string
		wantNext string
	}{
		{"everything in key order", `{}`, "1,10,11,2,3,4,5,6,7,8,9", ""},
		{"EQ", `{"filter":{"EQ":{"state":"CA"}}}`, "1,3,5,7", ""},
		{"EQ numeric 1015 matches 1015.0", `{"filter":{"EQ":{"person.id":1015}}}`, "7", ""},
		{"IN", `{"filter":{"IN":{"person.org":["Dev Ops","Hardware"]}}}`, "1,2,4,5,7", ""},
		{"Dapr how-to example 3", `{"filter":{"OR":[{"EQ":{"person.org":"Dev Ops"}},{"AND":[{"EQ":{"person.org":"Finance"}},{"IN":{"state":["CA","WA"]}}]}]},
			"sort":[{"key":"state","order":"DESC"},{"key":"person.id"}]}`, "4,6,7,1,3", ""},
		{"sort numeric ascending, missing first", `{"filter":{"IN":{"person.org":["Finance","Hardware"]}},"sort":[{"key":"person.id"}]}`, "8,5,2,3,6", ""},
		{"sort descending, missing last", `{"filter":{"IN":{"person.org":["Finance","Hardware"]}},"sort":[{"key":"person.id","order":"DESC"}]}`, "6,3,2,5,8", ""},
		{"sort null before strings", `{"filter":{"EQ":{"person.org":"Finance"}},"sort":[{"key":"state"}]}`, "8,3,6", ""},
		{"ties keep key order", `{"sort":[{"key":"state"}],"filter":{"IN":{"state":["WA","OR"]}}}`, "2,4,6", ""},
		{"no filter keeps non-objects, missing sorts first", `{"sort":[{"key":"person.id","order":"DESC"}]}`, "6,3,4,1,2,7,5,10,11,8,9", ""},
		{"NEQ skips missing and null differs", `{"filter":{"NEQ":{"state":"CA"}}}`, "2,4,6,8", ""},
		{"GT number", `{"filter":{"GT":{"person.id":1040}}}`, "3,4,6", ""},
		{"LTE string", `{"filter":{"LTE":{"state":"OR"}}}`, "1,2,3,5,7", ""},
		{"first page", `{"filter":{"EQ":{"state":"CA"}},"page":{"limit":3}}`, "1,3,5", "3"},
		{"last page", `{"filter":{"EQ":{"state":"CA"}},"page":{"limit":3,"token":"3"}}`, "7", ""},
		{"exact last page has no token", `{"filter":{"EQ":{"state":"CA"}},"page":{"limit":2,"token":"2"}}`, "5,7", ""},
		{"token past the end", `{"filter":{"EQ":{"state":"CA"}},"page":{"limit":2,"token":"10"}}`, "", ""},
		{"token without limit", `{"filter":{"EQ":{"state":"CA"}},"page":{"token":"1"}}`, "3,5,7", ""},
		{"no match", `{"filter":{"EQ":{"state":"TX"}}}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, next, err := Execute(mustParse(t, tt.query), employees)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if got := keys(page); got != tt.wantKeys || next != tt.wantNext {
				t.Fatalf("Execute = [%s] next %q, want [%s] next %q", got, next, tt.wantKeys, tt.wantNext)
			}
		})
	}
}

func TestExecuteReturnsItems(t *testing.T) {
	page, _, err := Execute(mustParse(t, `{"filter":{"EQ":{"person.id":1028}}}`), employees)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if len(page) != 1 || page[0].Key != "2" || page[0].ETag != "e2" || string(page[0].Data) != string(employees[1].Data) {
		t.Fatalf("Execute = %+v, want item 2 unchanged", page)
	}
}

func TestExecutePagesWalk(t *testing.T) {
	for limit := 1; limit <= 12; limit++ {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var all []Item
			token := ""
			for range 20 {
				q := &Query{Sort: []Sort{{Key: "city"}}, Limit: limit, Token: token}
				page, next, err := Execute(q, employees)
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d items exceeds limit %d", len(page), limit)
				}
				all = append(all, page...)
				if next == "" {
					break
				}
				token = next
			}
			whole, _, err := Execute(&Query{Sort: []Sort{{Key: "city"}}}, employees)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if keys(all) != keys(whole) {
				t.Fatalf("pages joined = [%s], want [%s]", keys(all), keys(whole))
			}
		})
	}
}

func TestExecuteDoesNotReorderInput(t *testing.T) {
	in := slices.Clone(employees)
	if _, _, err := Execute(&Query{Sort: []Sort{{Key: "state"}}}, in); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if keys(in) != keys(employees) {
		t.Fatalf("input reordered to [%s]", keys(in))
	}
}

func TestExecuteBadToken(t *testing.T) {
	for _, token := range []string{"abc", "-3", "1e3"} {
		if _, _, err := Execute(&Query{Token: token}, employees); err == nil {
			t.Errorf("Execute with token %q succeeded, want error", token)
		}
	}
}

func TestExecuteNilQuery(t *testing.T) {
	page, next, err := Execute(nil, employees[:3])
	if err != nil || keys(page) != "1,2,3" || next != "" {
		t.Fatalf("Execute(nil) = [%s] %q %v, want [1,2,3]", keys(page), next, err)
	}
}
