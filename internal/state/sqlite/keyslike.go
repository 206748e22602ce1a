package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// KeysLike lists live keys matching a SQL LIKE pattern ('%' any run, '_'
// one character, '\' escapes), in key order. token is the last key of the
// previous page ("" to start); pageSize <= 0 returns everything. next is
// "" on the last page.
func (s *Store) KeysLike(ctx context.Context, pattern, token string, pageSize int) (keys []string, next string, err error) {
	glob, err := likeToGlob(pattern)
	if err != nil {
		return nil, "", &state.InvalidRequestError{Msg: "keys like: " + err.Error()}
	}
	// One row more than asked tells whether another page follows; SQLite
	// reads LIMIT -1 as no limit.
	limit := -1
	if pageSize > 0 {
		limit = pageSize + 1
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	keys, err = s.keysLike(ctx, glob, token, limit)
	if err != nil {
		return nil, "", fmt.Errorf("sqlite: keys like %q: %w", pattern, err)
	}
	keys, next = storeutil.CutPage(keys, pageSize)
	return keys, next, nil
}

func (s *Store) keysLike(ctx context.Context, glob, after string, limit int) ([]string, error) {
	var keys []string
	err := s.readRows(ctx, func(rows *sql.Rows) error {
		var k string
		if err := rows.Scan(&k); err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	}, s.sql.keysLike, glob, after, sqlTime(time.Now()), limit)
	return keys, err
}

// likeToGlob turns a LIKE pattern into the equivalent GLOB pattern. SQLite's
// LIKE ignores ASCII case, while keys (and LIKE in the other stores) are
// case-sensitive; GLOB compares exactly.
func likeToGlob(like string) (string, error) {
	return storeutil.RewriteLike(like, "*", "?", writeGlobLiteral)
}

// writeGlobLiteral writes r so GLOB matches it literally: its wildcards
// become one-character sets ("[*]"); ']' outside a set is already literal.
func writeGlobLiteral(b *strings.Builder, r rune) {
	switch r {
	case '*', '?', '[':
		b.WriteByte('[')
		b.WriteRune(r)
		b.WriteByte(']')
	default:
		b.WriteRune(r)
	}
}
