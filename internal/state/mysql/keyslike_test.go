package mysql

import (
	"net/url"
	"strings"
	"testing"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/internal/storetest"
)

func TestRewriteLike(t *testing.T) {
	storetest.CheckLikeRewrite(t, "rewriteLike", rewriteLike, []storetest.LikeCase{
		{Like: "app||%", Want: "app||%"},
		{Like: "a_c", Want: "a_c"},
		{Like: `a\_c\%`, Want: "a!_c!%"},
		{Like: `a\\b`, Want: `a\b`},
		{Like: "hey!", Want: "hey!!"},
		{Like: `\!\x`, Want: "!!x"},
		{Like: "", Fails: true},
		{Like: `bad\`, Fails: true},
	})
}

// TestKeysLikeSpecialCharacters checks escapes, '!' and backslashes in
// keys, with and without sql_mode NO_BACKSLASH_ESCAPES.
func TestKeysLikeSpecialCharacters(t *testing.T) {
	modes := []struct{ name, params, wantMode string }{
		{"default", "", ""},
		{"no-backslash-escapes", "?sql_mode=" + url.QueryEscape("'NO_BACKSLASH_ESCAPES'"), "NO_BACKSLASH_ESCAPES"},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			schema, _ := testSchema(t)
			s := New()
			err := s.Init(t.Context(), state.Metadata{Name: "test", Properties: map[string]string{
				"connectionString": serverDSN + m.params,
				"schemaName":       schema,
			}})
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			t.Cleanup(func() { _ = s.Close() })
			var mode string
			if err := s.db.QueryRowContext(t.Context(), `SELECT @@SESSION.sql_mode`).Scan(&mode); err != nil {
				t.Fatalf("read sql_mode: %v", err)
			}
			if !strings.Contains(mode, m.wantMode) {
				t.Fatalf("sql_mode = %q, want it to contain %q", mode, m.wantMode)
			}
			storetest.CheckKeysLike(t, s, []string{"k%1", "k_1", "k!1", `k\1`, "kx1", "K!1"}, []storetest.KeysLikeCase{
				{Pattern: `k\%%`, Want: []string{"k%1"}},
				{Pattern: `k\_1`, Want: []string{"k_1"}},
				{Pattern: "k!%", Want: []string{"k!1"}},
				{Pattern: `k\\%`, Want: []string{`k\1`}},
				{Pattern: "k_1", Want: []string{"k!1", "k%1", `k\1`, "k_1", "kx1"}},
			})
		})
	}
}
