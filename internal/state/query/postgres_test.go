package query

import (
	"reflect"
	"testing"
)

func TestPostgres(t *testing.T) {
	const (
		rankA = "CASE jsonb_typeof((value #> $1::text[])) WHEN 'null' THEN 1 WHEN 'string' THEN 2 WHEN 'number' THEN 3" +
			" WHEN 'boolean' THEN 4 WHEN 'array' THEN 5 WHEN 'object' THEN 6 ELSE 0 END"
		textA = "(CASE WHEN jsonb_typeof((value #> $1::text[])) = 'string' THEN (value #> $1::text[]) #>> '{}' END) COLLATE \"C\""
	)
	tests := []struct {
		name      string
		query     string
		prefix    string
		argOffset int
		want      PostgresQuery
	}{
		{
			name:  "everything",
			query: `{}`,
			want:  PostgresQuery{Where: "TRUE", OrderBy: "key"},
		},
		{
			name:   "prefix is LIKE-escaped",
			query:  `{}`,
			prefix: "my_app!%||",
			want: PostgresQuery{
				Where: "key LIKE $1 ESCAPE '!'", OrderBy: "key",
				Args: []any{"my!_app!!!%||%"},
			},
		},
		{
			name:  "EQ compares jsonb",
			query: `{"filter":{"EQ":{"person.org":"Dev Ops"}}}`,
			want: PostgresQuery{
				Where:   "jsonb_typeof(value) = 'object' AND (value #> $1::text[]) = $2::text::jsonb",
				OrderBy: "key",
				Args:    []any{[]string{"person", "org"}, `"Dev Ops"`},
			},
		},
		{
			name:      "arg offset, prefix, number, page",
			query:     `{"filter":{"EQ":{"n":1}},"page":{"limit":10,"token":"20"}}`,
			prefix:    "app||",
			argOffset: 2,
			want: PostgresQuery{
				Where:   "key LIKE $3 ESCAPE '!' AND jsonb_typeof(value) = 'object' AND (value #> $4::text[]) = $5::text::jsonb",
				OrderBy: "key", Limit: 11, Offset: 20,
				Args: []any{"app||%", []string{"n"}, "1"},
			},
		},
		{
			name:  "IN uses one array argument",
			query: `{"filter":{"IN":{"state":["CA",1,true,null]}}}`,
			want: PostgresQuery{
				Where:   "jsonb_typeof(value) = 'object' AND (value #> $1::text[]) = ANY($2::text[]::jsonb[])",
				OrderBy: "key",
				Args:    []any{[]string{"state"}, []string{`"CA"`, "1", "true", "null"}},
			},
		},
		{
			name:  "AND and OR nest in parentheses",
			query: `{"filter":{"OR":[{"EQ":{"a":"x"}},{"AND":[{"EQ":{"b":"y"}},{"IN":{"c":["z"]}}]}]}}`,
			want: PostgresQuery{
				Where: "jsonb_typeof(value) = 'object' AND ((value #> $1::text[]) = $2::text::jsonb OR " +
					"((value #> $3::text[]) = $4::text::jsonb AND (value #> $5::text[]) = ANY($6::text[]::jsonb[])))",
				OrderBy: "key",
				Args:    []any{[]string{"a"}, `"x"`, []string{"b"}, `"y"`, []string{"c"}, []string{`"z"`}},
			},
		},
		{
			name:  "comparisons",
			query: `{"filter":{"AND":[{"NEQ":{"a":"x"}},{"GT":{"n":1.5}},{"LTE":{"s":"m"}}]}}`,
			want: PostgresQuery{
				Where: "jsonb_typeof(value) = 'object' AND ((value #> $1::text[]) <> $2::text::jsonb AND " +
					"(jsonb_typeof((value #> $3::text[])) = 'number' AND (value #> $3::text[]) > $4::text::jsonb) AND " +
					"(jsonb_typeof((value #> $5::text[])) = 'string' AND ((value #> $5::text[]) #>> '{}') COLLATE \"C\" <= $6::text))",
				OrderBy: "key",
				Args:    []any{[]string{"a"}, `"x"`, []string{"n"}, "1.5", []string{"s"}, "m"},
			},
		},
		{
			name:  "sort",
			query: `{"sort":[{"key":"person.id","order":"DESC"}]}`,
			want: PostgresQuery{
				Where:   "TRUE",
				OrderBy: rankA + " DESC, " + textA + " DESC, (value #> $1::text[]) DESC, key",
				Args:    []any{[]string{"person", "id"}},
			},
		},
		{
			name:  "hostile key stays in args",
			query: `{"filter":{"EQ":{"a'); DROP TABLE state; --":"x'y"}}}`,
			want: PostgresQuery{
				Where:   "jsonb_typeof(value) = 'object' AND (value #> $1::text[]) = $2::text::jsonb",
				OrderBy: "key",
				Args:    []any{[]string{"a'); DROP TABLE state; --"}, `"x'y"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Postgres(mustParse(t, tt.query), tt.prefix, tt.argOffset)
			if err != nil {
				t.Fatalf("Postgres: %v", err)
			}
			got.pageSize = 0
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("Postgres:\n got %#v\nwant %#v", *got, tt.want)
			}
		})
	}
}

func TestPostgresClauseAndNext(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		clause  string
		fetched int
		keep    int
		next    string
	}{
		{"no paging", `{}`, "WHERE TRUE ORDER BY key", 7, 7, ""},
		{"more rows follow", `{"page":{"limit":3,"token":"6"}}`, "WHERE TRUE ORDER BY key LIMIT 4 OFFSET 6", 4, 3, "9"},
		{"last full page", `{"page":{"limit":3,"token":"6"}}`, "WHERE TRUE ORDER BY key LIMIT 4 OFFSET 6", 3, 3, ""},
		{"short page", `{"page":{"limit":3}}`, "WHERE TRUE ORDER BY key LIMIT 4", 1, 1, ""},
		{"empty page", `{"page":{"limit":3,"token":"30"}}`, "WHERE TRUE ORDER BY key LIMIT 4 OFFSET 30", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Postgres(mustParse(t, tt.query), "", 0)
			if err != nil {
				t.Fatalf("Postgres: %v", err)
			}
			if got := p.Clause(); got != tt.clause {
				t.Errorf("Clause() = %q, want %q", got, tt.clause)
			}
			keep, next := p.Next(tt.fetched)
			if keep != tt.keep || next != tt.next {
				t.Errorf("Next(%d) = %d, %q; want %d, %q", tt.fetched, keep, next, tt.keep, tt.next)
			}
		})
	}
}

func TestPostgresErrors(t *testing.T) {
	tests := []struct {
		name string
		q    *Query
	}{
		{"bad token", &Query{Token: "x"}},
		{"unknown filter type", &Query{Filter: AND{Filters: []Filter{EQ{Key: "a", Value: 1.0}, nil}}}},
		{"unknown comparison", &Query{Filter: Compare{Op: "LIKE", Key: "a", Value: "x"}}},
		{"GT on bool", &Query{Filter: Compare{Op: OpGT, Key: "a", Value: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := Postgres(tt.q, "", 0); err == nil {
				t.Fatalf("Postgres = %+v, want error", p)
			}
		})
	}
}
