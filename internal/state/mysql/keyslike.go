package mysql

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// KeysLike lists live keys matching a SQL LIKE pattern ('%' any run, '_'
// one character, '\' escapes), in key order. token is the last key of the
// previous page ("" to start); pageSize <= 0 returns everything. next is
// "" on the last page. The id column is utf8mb4_bin, so matching is
// case-sensitive as in the other stores.
func (s *Store) KeysLike(ctx context.Context, pattern, token string, pageSize int) (keys []string, next string, err error) {
	like, err := rewriteLike(pattern)
	if err != nil {
		return nil, "", &state.InvalidRequestError{Msg: "keys like: " + err.Error()}
	}
	// One row more than asked tells whether another page follows.
	limit := int64(math.MaxInt64)
	if pageSize > 0 {
		limit = int64(pageSize) + 1
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	keys, err = s.keysLike(ctx, like, token, limit)
	if err != nil {
		return nil, "", fmt.Errorf("mysql: keys like %q: %w", pattern, err)
	}
	keys, next = storeutil.CutPage(keys, pageSize)
	return keys, next, nil
}

func (s *Store) keysLike(ctx context.Context, like, after string, limit int64) ([]string, error) {
	rows, err := s.stmts.keysLike.QueryContext(ctx, like, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return storeutil.CollectStrings(rows)
}

// likeEscape is the escape character named in the statement's LIKE. A
// backslash literal in the SQL would mean something else under sql_mode
// NO_BACKSLASH_ESCAPES, so patterns are rewritten to use '!' instead.
const likeEscape = '!'

// rewriteLike turns a LIKE pattern with '\' escapes into one with
// likeEscape escapes. It rejects what PostgreSQL's LIKE rejects; MySQL
// would read a trailing backslash as a literal one.
func rewriteLike(like string) (string, error) {
	return storeutil.RewriteLike(like, "%", "_", writeLikeLiteral)
}

// writeLikeLiteral writes r so LIKE ... ESCAPE '!' matches it literally:
// '!' is always escaped, and wildcards reach here only when they were
// escaped in the pattern.
func writeLikeLiteral(b *strings.Builder, r rune) {
	if r == likeEscape || r == '%' || r == '_' {
		b.WriteRune(likeEscape)
	}
	b.WriteRune(r)
}
