package storeutil

import (
	"errors"
	"strings"
)

// TranslateLike rewrites a SQL LIKE pattern ('%' any run, '_' one
// character, '\' escapes the next character) for another matcher: anyRun
// and oneChar stand for the unescaped wildcards, and literal writes every
// other character, escaped or not, so that it matches only itself.
// dangling reports a pattern that ends in a lone '\'; what that means is
// the caller's choice.
func TranslateLike(like, anyRun, oneChar string, literal func(b *strings.Builder, r rune)) (out string, dangling bool) {
	var b strings.Builder
	escaped := false
	for _, r := range like {
		switch {
		case escaped:
			literal(&b, r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '%':
			b.WriteString(anyRun)
		case r == '_':
			b.WriteString(oneChar)
		default:
			literal(&b, r)
		}
	}
	return b.String(), escaped
}

// RewriteLike is TranslateLike for the SQL stores, which reject what
// PostgreSQL's LIKE rejects: a trailing escape. An empty pattern is refused
// too, as listing every key is not what KeysLike is for.
func RewriteLike(like, anyRun, oneChar string, literal func(b *strings.Builder, r rune)) (string, error) {
	if like == "" {
		return "", errors.New("pattern is required")
	}
	out, dangling := TranslateLike(like, anyRun, oneChar, literal)
	if dangling {
		return "", errors.New("pattern ends with an escape character")
	}
	return out, nil
}

// CutPage trims keys, fetched with a limit of pageSize+1, to one page: the
// extra row, when there is one, says another page follows, and its token
// is the last key kept. next is "" on the last page. pageSize <= 0 means
// all keys were asked for at once.
func CutPage(keys []string, pageSize int) (page []string, next string) {
	if pageSize > 0 && len(keys) > pageSize {
		keys = keys[:pageSize]
		return keys, keys[pageSize-1]
	}
	return keys, ""
}

// Rows is what database/sql's and pgx's result sets have in common.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// CollectStrings scans rows of one string column. No rows give an empty
// slice, not nil. The caller closes rows.
func CollectStrings(rows Rows) ([]string, error) {
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
