package memory

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/outrigger/outrigger/internal/state"
)

// DeleteWithPrefix removes every key starting with prefix and returns how
// many live keys it removed. As in Dapr, the prefix must be non-empty and
// is completed with the key separator ("app||actor" deletes "app||actor||…").
func (s *Store) DeleteWithPrefix(_ context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, &state.InvalidRequestError{Msg: "delete with prefix: prefix is required"}
	}
	if !strings.HasSuffix(prefix, state.KeySeparator) {
		prefix += state.KeySeparator
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var n int64
	for k, it := range s.items {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if !it.expired(now) {
			n++
		}
		delete(s.items, k)
	}
	return n, nil
}

// KeysLike lists live keys matching an SQL LIKE pattern ('%' any run, '_'
// one character, '\' escapes), in key order. token is the last key of the
// previous page ("" to start); pageSize <= 0 returns everything. next is
// "" on the last page.
func (s *Store) KeysLike(_ context.Context, pattern, token string, pageSize int) (keys []string, next string, err error) {
	if pattern == "" {
		return nil, "", &state.InvalidRequestError{Msg: "keys like: pattern is required"}
	}
	re, err := likeRegexp(pattern)
	if err != nil {
		return nil, "", &state.InvalidRequestError{Msg: "keys like: " + err.Error()}
	}
	keys = s.sortedLiveKeys(func(k string) bool { return k > token && re.MatchString(k) })
	if pageSize > 0 && len(keys) > pageSize {
		keys = keys[:pageSize]
		next = keys[pageSize-1]
	}
	return keys, next, nil
}

// likeRegexp translates an SQL LIKE pattern into an anchored regexp.
func likeRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '%':
			b.WriteString(`.*`)
		case '_':
			b.WriteString(`.`)
		case '\\':
			if i+1 == len(rs) {
				return nil, errors.New("pattern ends with an escape character")
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		}
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}
