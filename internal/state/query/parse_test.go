package query

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Query
	}{
		{"empty object", `{}`, &Query{}},
		{"nulls are absent", `{"filter":null,"sort":null,"page":null}`, &Query{}},
		{"unknown top-level fields ignored", `{"query":{"filter":{"XX":1}}}`, &Query{}},
		{"EQ string", `{"filter":{"EQ":{"state":"CA"}}}`, &Query{Filter: EQ{Key: "state", Value: "CA"}}},
		{"EQ number", `{"filter":{"EQ":{"person.id":1036}}}`, &Query{Filter: EQ{Key: "person.id", Value: 1036.0}}},
		{"EQ bool and null", `{"filter":{"OR":[{"EQ":{"a":true}},{"EQ":{"b":null}}]}}`,
			&Query{Filter: OR{Filters: []Filter{EQ{Key: "a", Value: true}, EQ{Key: "b", Value: nil}}}}},
		{"value. prefix is an ordinary field", `{"filter":{"EQ":{"value.person.org":"Dev Ops"}}}`,
			&Query{Filter: EQ{Key: "value.person.org", Value: "Dev Ops"}}},
		{"IN", `{"filter":{"IN":{"person.org":["a","b",3]}}}`,
			&Query{Filter: IN{Key: "person.org", Values: []any{"a", "b", 3.0}}}},
		{"nested AND/OR", `{"filter":{"OR":[{"EQ":{"person.org":"Dev Ops"}},{"AND":[{"EQ":{"person.org":"Finance"}},{"IN":{"state":["CA","WA"]}}]}]}}`,
			&Query{Filter: OR{Filters: []Filter{
				EQ{Key: "person.org", Value: "Dev Ops"},
				AND{Filters: []Filter{EQ{Key: "person.org", Value: "Finance"}, IN{Key: "state", Values: []any{"CA", "WA"}}}},
			}}}},
		{"comparisons", `{"filter":{"AND":[{"NEQ":{"a":null}},{"GT":{"n":1}},{"GTE":{"n":2}},{"LT":{"s":"m"}},{"LTE":{"s":"z"}}]}}`,
			&Query{Filter: AND{Filters: []Filter{
				Compare{Op: OpNEQ, Key: "a", Value: nil},
				Compare{Op: OpGT, Key: "n", Value: 1.0},
				Compare{Op: OpGTE, Key: "n", Value: 2.0},
				Compare{Op: OpLT, Key: "s", Value: "m"},
				Compare{Op: OpLTE, Key: "s", Value: "z"},
			}}}},
		{"sort and page", `{"sort":[{"key":"state","order":"DESC"},{"key":"person.id"},{"key":"x","order":"asc"}],"page":{"limit":2,"token":"4"}}`,
			&Query{Sort: []Sort{{Key: "state", Desc: true}, {Key: "person.id"}, {Key: "x"}}, Limit: 2, Token: "4"}},
		{"page without token", `{"page":{"limit":0}}`, &Query{}},
		{"array index in key", `{"sort":[{"key":"tags.0"}]}`, &Query{Sort: []Sort{{Key: "tags.0"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty input", ``, "not a JSON object"},
		{"not an object", `[1]`, "not a JSON object"},
		{"null", `null`, "not a JSON object"},
		{"unknown operator", `{"filter":{"LIKE":{"a":"b"}}}`, `filter: unknown operator "LIKE"`},
		{"lower-case operator", `{"filter":{"eq":{"a":"b"}}}`, `unknown operator "eq"`},
		{"two operators", `{"filter":{"EQ":{"a":1},"IN":{"b":[1]}}}`, "filter: must have exactly one operator, got 2 (EQ, IN)"},
		{"empty filter", `{"filter":{}}`, "must have exactly one operator, got 0"},
		{"filter not object", `{"filter":"x"}`, "filter: must be an object"},
		{"EQ two keys", `{"filter":{"EQ":{"a":1,"b":2}}}`, "filter.EQ: must have exactly one key, got 2"},
		{"EQ no keys", `{"filter":{"EQ":{}}}`, "filter.EQ: must have exactly one key, got 0"},
		{"EQ not object", `{"filter":{"EQ":["a",1]}}`, "filter.EQ: must be an object"},
		{"EQ object value", `{"filter":{"EQ":{"a":{"b":1}}}}`, `filter.EQ: value for key "a": must be a string, number, boolean or null`},
		{"EQ empty key", `{"filter":{"EQ":{"":1}}}`, "filter.EQ: empty key"},
		{"EQ empty segment", `{"filter":{"EQ":{"a..b":1}}}`, `invalid key "a..b": empty path segment`},
		{"IN not array", `{"filter":{"IN":{"a":"b"}}}`, `filter.IN: value for key "a" must be an array`},
		{"IN empty", `{"filter":{"IN":{"a":[]}}}`, "must have at least one element"},
		{"IN nested array", `{"filter":{"IN":{"a":[[1]]}}}`, `element 0 for key "a": must be a string`},
		{"AND one filter", `{"filter":{"AND":[{"EQ":{"a":1}}]}}`, "filter.AND: must have at least two filters, got 1"},
		{"OR empty", `{"filter":{"OR":[]}}`, "filter.OR: must have at least two filters, got 0"},
		{"AND not array", `{"filter":{"AND":{"EQ":{"a":1}}}}`, "filter.AND: must be an array"},
		{"nested error location", `{"filter":{"OR":[{"EQ":{"a":1}},{"AND":[{"EQ":{"b":1}},{"NOPE":{}}]}]}}`, `filter.OR[1].AND[1]: unknown operator "NOPE"`},
		{"GT bool", `{"filter":{"GT":{"a":true}}}`, `filter.GT: value for key "a" must be a number or a string`},
		{"LT null", `{"filter":{"LT":{"a":null}}}`, "must be a number or a string"},
		{"sort not array", `{"sort":{"key":"a"}}`, "sort: must be an array"},
		{"sort bad order", `{"sort":[{"key":"a","order":"UP"}]}`, `sort[0]: invalid order "UP" (want ASC or DESC)`},
		{"sort missing key", `{"sort":[{"order":"ASC"}]}`, "sort[0]: empty key"},
		{"sort entry not object", `{"sort":["a"]}`, "sort[0]: must be an object"},
		{"negative limit", `{"page":{"limit":-1}}`, "page.limit: must not be negative, got -1"},
		{"fractional limit", `{"page":{"limit":1.5}}`, "page.limit: 1.5 is not an integer"},
		{"huge limit", `{"page":{"limit":99999999999}}`, "page.limit: 99999999999 is too large"},
		{"numeric token", `{"page":{"token":3}}`, "page: must be an object"},
		{"page not object", `{"page":[]}`, "page: must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse(%s) = %#v, want error containing %q", tt.in, q, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%s) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		token   string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"25", 25, false},
		{"-1", 0, true},
		{"abc", 0, true},
		{"1.5", 0, true},
	}
	for _, tt := range tests {
		got, err := (&Query{Token: tt.token}).Offset()
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Offset(%q) = %d, %v; want %d, error %v", tt.token, got, err, tt.want, tt.wantErr)
		}
	}
}
