package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
)

// Query runs an alpha1 state query in Go over the live JSON rows whose key
// starts with the request's prefix. Binary values are not documents and
// are skipped.
func (s *Store) Query(ctx context.Context, req state.QueryRequest) (state.QueryResponse, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	items, err := s.scanPrefix(ctx, req.KeyPrefix)
	if err != nil {
		return state.QueryResponse{}, fmt.Errorf("sqlite: query: %w", err)
	}
	page, next, err := query.Execute(req.Query, items)
	if err != nil {
		return state.QueryResponse{}, &state.InvalidRequestError{Msg: "invalid query: " + err.Error()}
	}
	res := state.QueryResponse{Results: make([]state.QueryItem, len(page)), Token: next}
	for i, it := range page {
		res.Results[i] = state.QueryItem{Key: it.Key, Data: it.Data, ETag: it.ETag}
	}
	return res, nil
}

// scanPrefix loads the live, non-binary rows under prefix. The key range
// [prefix, prefixEnd) uses the primary key index, unlike LIKE or GLOB,
// whose wildcards would also need escaping.
func (s *Store) scanPrefix(ctx context.Context, prefix string) ([]query.Item, error) {
	q := `SELECT key, value, etag FROM ` + s.cfg.tableName +
		` WHERE NOT is_binary AND ` + liveCond + ` AND key >= ?`
	args := []any{sqlTime(time.Now()), prefix}
	if end, ok := prefixEnd(prefix); ok {
		q += ` AND key < ?`
		args = append(args, end)
	}
	var items []query.Item
	err := s.readRows(ctx, func(rows *sql.Rows) error {
		var it query.Item
		if err := rows.Scan(&it.Key, &it.Data, &it.ETag); err != nil {
			return err
		}
		items = append(items, it)
		return nil
	}, q+` ORDER BY key`, args...)
	return items, err
}

// prefixEnd returns the smallest string greater than every string that
// starts with prefix, or false when there is none (empty prefix, or only
// 0xff bytes). SQLite compares TEXT keys byte-wise (BINARY collation).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
