package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outrigger/outrigger/internal/state/internal/storeutil"
)

// KeysLike lists stored keys matching a SQL LIKE pattern ('%' any run, '_'
// one character, '\' escapes), a page at a time. token is "" for the first
// page; the returned token is "" after the last one. A page may hold a few
// more keys than pageSize (SCAN's COUNT is a hint); pageSize <= 0 returns
// everything at once.
//
// Cluster mode scans every master and returns all matches in one page.
func (s *Store) KeysLike(ctx context.Context, pattern, token string, pageSize int) ([]string, string, error) {
	glob := likeToGlob(pattern)
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		keys, err := scanCluster(ctx, cc, glob)
		return keys, "", err
	}
	var cursor uint64
	if token != "" {
		c, err := strconv.ParseUint(token, 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("redis store: invalid continuation token %q", token)
		}
		cursor = c
	}
	return scanPage(ctx, s.client, glob, cursor, pageSize)
}

// scanPage runs SCAN until it has pageSize keys or the scan is complete.
func scanPage(ctx context.Context, c goredis.Cmdable, glob string, cursor uint64, pageSize int) ([]string, string, error) {
	count := int64(pageSize)
	if count <= 0 {
		count = 1000
	}
	var keys []string
	for {
		batch, next, err := c.Scan(ctx, cursor, glob, count).Result()
		if err != nil {
			return nil, "", fmt.Errorf("redis store: scan: %w", err)
		}
		keys = append(keys, batch...)
		cursor = next
		if cursor == 0 {
			return keys, "", nil
		}
		if pageSize > 0 && len(keys) >= pageSize {
			return keys, strconv.FormatUint(cursor, 10), nil
		}
	}
}

func scanCluster(ctx context.Context, cc *goredis.ClusterClient, glob string) ([]string, error) {
	var mu sync.Mutex
	var keys []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		found, _, err := scanPage(ctx, node, glob, 0, 0)
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	})
	return keys, err
}

// likeToGlob converts a SQL LIKE pattern to a Redis glob pattern. Redis has
// no invalid patterns: a trailing lone backslash matches a backslash.
func likeToGlob(like string) string {
	glob, dangling := storeutil.TranslateLike(like, "*", "?", writeLiteral)
	if dangling {
		glob += `\\`
	}
	return glob
}

// writeLiteral writes r, escaping the characters Redis globs treat specially.
func writeLiteral(b *strings.Builder, r rune) {
	switch r {
	case '*', '?', '[', ']', '\\':
		b.WriteByte('\\')
	}
	b.WriteRune(r)
}
