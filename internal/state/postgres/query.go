package postgres

import (
	"context"
	"fmt"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
)

// queryStore is the v1 store: v1 keeps values in jsonb, which PostgreSQL
// can search, so it adds the query API. (v2's bytea values cannot be.)
type queryStore struct{ *Store }

// Query runs an alpha1 state query. Results are restricted to the request's
// key prefix and skip binary values and expired rows.
func (s *queryStore) Query(ctx context.Context, req state.QueryRequest) (state.QueryResponse, error) {
	// The statement has no placeholders of its own: the translator's are $1….
	pq, err := query.Postgres(req.Query, req.KeyPrefix, 0)
	if err != nil {
		return state.QueryResponse{}, &state.InvalidRequestError{Msg: "invalid query: " + err.Error()}
	}
	sql := "SELECT key, value, isbinary, xmin::text, expiredate FROM " + s.l.table.SQL() +
		" WHERE NOT isbinary AND " + s.l.notExpired() + " AND (" + pq.Where + ") ORDER BY " + pq.OrderBy
	if pq.Limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", pq.Limit)
	}
	if pq.Offset > 0 {
		sql += fmt.Sprintf(" OFFSET %d", pq.Offset)
	}

	var items []state.QueryItem
	err = s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		items, err = s.runQuery(ctx, sql, pq.Args)
		return err
	})
	if err != nil {
		return state.QueryResponse{}, fmt.Errorf("postgresql: query: %w", err)
	}
	keep, next := pq.Next(len(items))
	return state.QueryResponse{Results: items[:keep], Token: next}, nil
}

func (s *Store) runQuery(ctx context.Context, sql string, args []any) ([]state.QueryItem, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	items := []state.QueryItem{}
	for rows.Next() {
		x, err := scanRow(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, state.QueryItem{Key: x.key, Data: x.value, ETag: x.etag})
	}
	return items, rows.Err()
}
