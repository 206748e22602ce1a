package statetest

import (
	"slices"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
)

// maxPages stops a paging loop whose store never returns an empty token.
const maxPages = 1000

func (h *harness) testKeysLike(t *testing.T) {
	h.require(t, state.FeatureKeysLike)
	kl, ok := h.store.(state.KeysLiker)
	if !ok {
		t.Fatalf("store advertises %s but %T does not implement state.KeysLiker", state.FeatureKeysLike, h.store)
	}
	// A sub-prefix keeps other groups' keys out of the results.
	p := h.prefix + "like" + state.KeySeparator
	var (
		a     = h.keyUnder(t, p, "a")
		apple = h.keyUnder(t, p, "apple")
		under = h.keyUnder(t, p, "a_x") // literal '_'
		abx   = h.keyUnder(t, p, "abx") // matched by the '_' wildcard in "a_x"
		upper = h.keyUnder(t, p, "Ab")  // keys are case-sensitive
		b     = h.keyUnder(t, p, "b")
		xa    = h.keyUnder(t, p, "xa")
		deep  = h.keyUnder(t, p, "sub||a")
	)
	// The expired key is written first so its TTL runs while the others
	// are written.
	var dead, live string
	start := time.Now()
	if h.has(state.FeatureTTL) {
		dead, live = h.keyUnder(t, p, "a-ttl-dead"), h.keyUnder(t, p, "a-ttl-live")
		h.mustSet(t, dead, []byte(`"dead"`), withTTL("1"))
	}
	for _, k := range []string{a, apple, under, abx, upper, b, xa, deep} {
		h.mustSet(t, k, []byte(`1`))
	}
	// ttl holds the live TTL key, expected wherever a pattern matches it.
	var ttl []string
	if live != "" {
		h.mustSet(t, live, []byte(`"live"`), withTTL("60"))
		h.waitExpired(t, dead, start)
		ttl = []string{live}
	}
	with := func(keys ...string) []string { return append(keys, ttl...) }

	tests := []struct {
		pattern  string
		pageSize int
		want     []string
	}{
		{p + "a%", 2, with(a, apple, under, abx)},
		{p + "a%", 0, with(a, apple, under, abx)},
		{p + "a_x%", 2, []string{under, abx}},
		{p + `a\_x%`, 2, []string{under}},
		{p + "%a-%", 2, with(a, xa, deep)},
		{p + "A%", 2, []string{upper}},
		{p + "a", 2, nil},
		{p + "%", 3, with(a, apple, under, abx, upper, b, xa, deep)},
	}
	for _, tc := range tests {
		got := h.keysLikeAll(t, kl, tc.pattern, tc.pageSize)
		if !sameSet(got, tc.want) {
			t.Errorf("KeysLike(%q, pageSize %d) = %q, want %q (any order, no duplicates)", tc.pattern, tc.pageSize, got, tc.want)
		}
	}
}

// keysLikeAll pages through KeysLike until the token is empty.
func (h *harness) keysLikeAll(t *testing.T, kl state.KeysLiker, pattern string, pageSize int) []string {
	t.Helper()
	var all []string
	token := ""
	for range maxPages {
		keys, next, err := kl.KeysLike(ctx(t), pattern, token, pageSize)
		if err != nil {
			t.Fatalf("KeysLike(%q, token %q, pageSize %d): %v", pattern, token, pageSize, err)
		}
		all = append(all, keys...)
		if next == "" {
			return all
		}
		if pageSize <= 0 {
			t.Fatalf("KeysLike(%q, pageSize %d) returned token %q, want everything in one page", pattern, pageSize, next)
		}
		token = next
	}
	t.Fatalf("KeysLike(%q, pageSize %d): still returning tokens after %d pages (last %q)", pattern, pageSize, maxPages, token)
	return nil
}

// sameSet reports whether got holds exactly the keys of want, each once.
func sameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func (h *harness) testDeleteWithPrefix(t *testing.T) {
	h.require(t, state.FeatureDeleteWithPrefix)
	pd, ok := h.store.(state.PrefixDeleter)
	if !ok {
		t.Fatalf("store advertises %s but %T does not implement state.PrefixDeleter", state.FeatureDeleteWithPrefix, h.store)
	}
	// An empty prefix would wipe the whole store.
	if n, err := pd.DeleteWithPrefix(ctx(t), ""); err == nil {
		t.Errorf("DeleteWithPrefix(\"\") = %d, nil; want an error", n)
	}

	sub := h.prefix + "dp" + state.KeySeparator
	gone := []string{h.keyUnder(t, sub, "a"), h.keyUnder(t, sub, "b||c")}
	kept := []string{
		h.keyUnder(t, h.prefix+"dpx"+state.KeySeparator, "d"), // shares the text "dp" only
		h.keyUnder(t, h.prefix, "dp"),                         // shares the text "dp" only
		h.keyUnder(t, h.prefix, "other"),
	}
	for _, k := range append(slices.Clone(gone), kept...) {
		h.mustSet(t, k, []byte(`1`))
	}
	n, err := pd.DeleteWithPrefix(ctx(t), sub)
	if err != nil {
		t.Fatalf("DeleteWithPrefix(%q): %v", sub, err)
	}
	if n != int64(len(gone)) {
		t.Errorf("DeleteWithPrefix(%q) = %d, want %d", sub, n, len(gone))
	}
	for _, k := range gone {
		h.expectMissing(t, k)
	}
	for _, k := range kept {
		h.expectValue(t, k, []byte(`1`), false)
	}
}
