package sqlite

import (
	"testing"

	"github.com/outrigger/outrigger/internal/state/internal/storetest"
)

func TestLikeToGlob(t *testing.T) {
	storetest.CheckLikeRewrite(t, "likeToGlob", likeToGlob, []storetest.LikeCase{
		{Like: "app||%", Want: "app||*"},
		{Like: "a_c", Want: "a?c"},
		{Like: `a\_c\%`, Want: "a_c%"},
		{Like: `a\\b`, Want: `a\b`},
		{Like: "x*y?[z]", Want: "x[*]y[?][[]z]"},
		{Like: `\*`, Want: "[*]"},
		{Like: "", Fails: true},
		{Like: `bad\`, Fails: true},
	})
}

// TestKeysLikeGlobCharacters checks that GLOB's own wildcards in keys and
// patterns are matched literally.
func TestKeysLikeGlobCharacters(t *testing.T) {
	s := openStore(t, map[string]string{})
	storetest.CheckKeysLike(t, s, []string{"k*1", "k?1", "k[1]", "kx1", "k%1", "K*1"}, []storetest.KeysLikeCase{
		{Pattern: "k*%", Want: []string{"k*1"}},
		{Pattern: "k?_", Want: []string{"k?1"}},
		{Pattern: "k[%", Want: []string{"k[1]"}},
		{Pattern: "k_1", Want: []string{"k%1", "k*1", "k?1", "kx1"}},
		{Pattern: `k\%1`, Want: []string{"k%1"}},
		{Pattern: "k%]", Want: []string{"k[1]"}},
	})
}
