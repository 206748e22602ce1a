package memory

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
)

// Query evaluates an alpha1 query over the live JSON values under
// req.KeyPrefix. Binary values are not documents and are skipped.
func (s *Store) Query(_ context.Context, req state.QueryRequest) (state.QueryResponse, error) {
	items := s.queryItems(req.KeyPrefix)
	page, next, err := query.Execute(req.Query, items)
	if err != nil {
		return state.QueryResponse{}, &state.InvalidRequestError{Msg: "query failed: " + err.Error()}
	}
	out := state.QueryResponse{Token: next, Results: make([]state.QueryItem, len(page))}
	for i, it := range page {
		out.Results[i] = state.QueryItem{Key: it.Key, Data: bytes.Clone(it.Data), ETag: it.ETag}
	}
	return out, nil
}

// queryItems snapshots the candidates. Item data is immutable, so sharing
// the slices with the executor is safe; results are copied on the way out.
func (s *Store) queryItems(prefix string) []query.Item {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	var out []query.Item
	for k, it := range s.items {
		if it.binary || it.expired(now) || !strings.HasPrefix(k, prefix) {
			continue
		}
		out = append(out, query.Item{Key: k, Data: it.data, ETag: strconv.FormatUint(it.version, 10)})
	}
	return out
}

// sortedLiveKeys returns the live keys accepted by keep, in order.
func (s *Store) sortedLiveKeys(keep func(string) bool) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	var keys []string
	for k, it := range s.items {
		if !it.expired(now) && keep(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
