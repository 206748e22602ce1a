package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// PostgresQuery is a Query translated for a PostgreSQL table with a text
// "key" column and a jsonb "value" column (Dapr's state.postgresql v1
// layout). Every user-supplied value travels in Args; the SQL text holds only
// placeholders and constants. Use it as
//
//	pq, err := query.Postgres(q, "myapp||", 0)
//	rows, err := conn.Query(ctx, "SELECT key, value, xmin FROM "+table+" "+pq.Clause(), pq.Args...)
//	// ... read n rows into items ...
//	keep, next := pq.Next(len(items))
//	items = items[:keep] // next is the response token
//
// Results match Execute's: same filter semantics, same order (strings sort
// byte-wise via COLLATE "C", missing values first in ascending order, ties by
// key).
type PostgresQuery struct {
	// Where is a boolean expression, never empty ("TRUE" when nothing is
	// filtered); it can be ANDed with the caller's own conditions.
	Where string
	// OrderBy is a comma-separated list of ORDER BY terms, never empty; the
	// last term is "key" so that pages are stable.
	OrderBy string
	// Limit is the LIMIT to apply: one more than the page size, so Next can
	// tell whether another page follows. 0 means no LIMIT.
	Limit int
	// Offset is the OFFSET to apply, from the page token.
	Offset int
	// Args are the values for the $n placeholders in Where and OrderBy,
	// numbered from argOffset+1: []string for paths and IN lists, string
	// otherwise.
	Args []any

	pageSize int
}

// Postgres translates q. keyPrefix, when not empty, restricts results to keys
// starting with it. argOffset is the number of placeholders the caller
// already uses, so the first one here is $argOffset+1. A nil q selects
// everything.
func Postgres(q *Query, keyPrefix string, argOffset int) (*PostgresQuery, error) {
	if q == nil {
		q = &Query{}
	}
	offset, err := q.Offset()
	if err != nil {
		return nil, err
	}
	b := &pgBuilder{argOffset: argOffset}
	var conds []string
	if keyPrefix != "" {
		conds = append(conds, "key LIKE "+b.arg(likePrefix(keyPrefix))+" ESCAPE '!'")
	}
	if q.Filter != nil {
		f, err := b.filter(q.Filter)
		if err != nil {
			return nil, err
		}
		// Execute skips values that are not objects; so must SQL, or paths
		// like "0" would index top-level arrays.
		conds = append(conds, "jsonb_typeof(value) = 'object'", f)
	}
	if len(conds) == 0 {
		conds = append(conds, "TRUE")
	}
	var order []string
	for _, s := range q.Sort {
		order = append(order, b.sortTerms(s)...)
	}
	order = append(order, "key")
	p := &PostgresQuery{
		Where:    strings.Join(conds, " AND "),
		OrderBy:  strings.Join(order, ", "),
		Offset:   offset,
		Args:     b.args,
		pageSize: q.Limit,
	}
	if q.Limit > 0 {
		p.Limit = q.Limit + 1
	}
	return p, nil
}

// Clause returns "WHERE … ORDER BY …", followed by LIMIT and OFFSET when
// they apply, ready to follow "SELECT … FROM table".
func (p *PostgresQuery) Clause() string {
	s := "WHERE " + p.Where + " ORDER BY " + p.OrderBy
	if p.Limit > 0 {
		s += " LIMIT " + strconv.Itoa(p.Limit)
	}
	if p.Offset > 0 {
		s += " OFFSET " + strconv.Itoa(p.Offset)
	}
	return s
}

// Next takes the number of rows the statement returned and says how many of
// them form the page and the token of the next page ("" when none).
func (p *PostgresQuery) Next(fetched int) (keep int, next string) {
	if p.pageSize > 0 && fetched > p.pageSize {
		return p.pageSize, strconv.Itoa(p.Offset + p.pageSize)
	}
	return fetched, ""
}

// pgBuilder accumulates placeholder values while SQL text is generated.
type pgBuilder struct {
	argOffset int
	args      []any
}

// arg adds a value and returns its placeholder.
func (b *pgBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(b.argOffset+len(b.args))
}

// path returns the jsonb at key, or SQL NULL when the path is missing.
func (b *pgBuilder) path(key string) string {
	return "(value #> " + b.arg(splitKey(key)) + "::text[])"
}

// jsonArg passes a scalar as JSON text, cast to jsonb in SQL. jsonb compares
// numbers numerically and never equates values of different types.
func (b *pgBuilder) jsonArg(v any) (string, error) {
	enc, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode value %v: %w", v, err)
	}
	return b.arg(string(enc)) + "::text::jsonb", nil
}

func (b *pgBuilder) filter(f Filter) (string, error) {
	switch f := f.(type) {
	case EQ:
		x := b.path(f.Key)
		v, err := b.jsonArg(f.Value)
		return x + " = " + v, err
	case IN:
		return b.in(f)
	case Compare:
		return b.compare(f)
	case AND:
		return b.join(f.Filters, " AND ")
	case OR:
		return b.join(f.Filters, " OR ")
	default:
		return "", fmt.Errorf("unsupported filter %T", f)
	}
}

func (b *pgBuilder) in(f IN) (string, error) {
	vals := make([]string, len(f.Values))
	for i, v := range f.Values {
		enc, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("encode value %v: %w", v, err)
		}
		vals[i] = string(enc)
	}
	x := b.path(f.Key)
	return x + " = ANY(" + b.arg(vals) + "::text[]::jsonb[])", nil
}

var sqlOps = map[string]string{OpNEQ: "<>", OpGT: ">", OpGTE: ">=", OpLT: "<", OpLTE: "<="}

func (b *pgBuilder) compare(f Compare) (string, error) {
	op, ok := sqlOps[f.Op]
	if !ok {
		return "", fmt.Errorf("unsupported comparison %q", f.Op)
	}
	x := b.path(f.Key)
	if f.Op == OpNEQ {
		v, err := b.jsonArg(f.Value)
		return x + " " + op + " " + v, err
	}
	switch v := f.Value.(type) {
	case float64:
		j, err := b.jsonArg(v)
		return "(jsonb_typeof(" + x + ") = 'number' AND " + x + " " + op + " " + j + ")", err
	case string:
		// Compare the text byte-wise, as Go does, whatever the database
		// collation.
		return "(jsonb_typeof(" + x + ") = 'string' AND (" + x + " #>> '{}') COLLATE \"C\" " + op + " " + b.arg(v) + "::text)", nil
	default:
		return "", fmt.Errorf("%s on key %q needs a number or a string, got %T", f.Op, f.Key, f.Value)
	}
}

func (b *pgBuilder) join(fs []Filter, sep string) (string, error) {
	parts := make([]string, len(fs))
	for i, f := range fs {
		s, err := b.filter(f)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, sep) + ")", nil
}

// sortTerms orders by JSON type rank (missing first, then null, string,
// number, boolean, array, object), then strings byte-wise, then jsonb order
// for the remaining types: the order Execute uses.
func (b *pgBuilder) sortTerms(s Sort) []string {
	x := b.path(s.Key)
	dir := " ASC"
	if s.Desc {
		dir = " DESC"
	}
	rank := "CASE jsonb_typeof(" + x + ") WHEN 'null' THEN 1 WHEN 'string' THEN 2 WHEN 'number' THEN 3" +
		" WHEN 'boolean' THEN 4 WHEN 'array' THEN 5 WHEN 'object' THEN 6 ELSE 0 END"
	text := "(CASE WHEN jsonb_typeof(" + x + ") = 'string' THEN " + x + " #>> '{}' END) COLLATE \"C\""
	return []string{rank + dir, text + dir, x + dir}
}

// likePrefix escapes a key prefix for LIKE … ESCAPE '!' and appends the
// wildcard. '!' avoids backslash, whose meaning in literals depends on
// standard_conforming_strings.
func likePrefix(prefix string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return r.Replace(prefix) + "%"
}
