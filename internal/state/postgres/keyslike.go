package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// KeysLike lists live keys matching a SQL LIKE pattern ('%' and '_'
// wildcards, backslash escapes), in key order. after is the last key of the
// previous page ("" to start); limit <= 0 means no limit. It returns the
// keys and the token for the next page ("" when none).
//
// It backs the KEYS_LIKE feature (Dapr's workflow instance listing).
func (s *Store) KeysLike(ctx context.Context, pattern, after string, limit int) ([]string, string, error) {
	if pattern == "" {
		return nil, "", errors.New("postgresql: keys like: empty pattern")
	}
	// Fetch one more row than asked to learn whether another page follows.
	var lim any // NULL = no limit
	if limit > 0 {
		lim = limit + 1
	}
	var keys []string
	err := s.withRetry(ctx, func(ctx context.Context) error {
		var err error
		keys, err = s.keysLike(ctx, pattern, after, lim)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("postgresql: keys like %q: %w", pattern, err)
	}
	keys, next := storeutil.CutPage(keys, limit)
	return keys, next, nil
}

func (s *Store) keysLike(ctx context.Context, pattern, after string, limit any) ([]string, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	rows, err := s.db.Query(ctx, s.l.keysLikeSQL, pattern, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return storeutil.CollectStrings(rows)
}
