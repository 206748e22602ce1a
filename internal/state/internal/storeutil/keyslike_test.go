package storeutil

import (
	"slices"
	"strings"
	"testing"
)

// bracket writes every literal as "[r]", so tests see which characters
// went through literal.
func bracket(b *strings.Builder, r rune) {
	b.WriteByte('[')
	b.WriteRune(r)
	b.WriteByte(']')
}

func TestTranslateLike(t *testing.T) {
	tests := []struct {
		like, want string
		dangling   bool
	}{
		{like: "a%b_", want: "[a]*[b]?"},
		{like: `\%\_\\`, want: `[%][_][\]`},
		{like: `x\`, want: "[x]", dangling: true},
		{like: "", want: ""},
		{like: "é%", want: "[é]*"},
	}
	for _, tc := range tests {
		got, dangling := TranslateLike(tc.like, "*", "?", bracket)
		if got != tc.want || dangling != tc.dangling {
			t.Errorf("TranslateLike(%q) = %q, %v; want %q, %v", tc.like, got, dangling, tc.want, tc.dangling)
		}
	}
}

func TestRewriteLike(t *testing.T) {
	tests := []struct {
		like, want string
		fails      bool
	}{
		{like: "a%", want: "[a]*"},
		{like: "", fails: true},
		{like: `a\`, fails: true},
	}
	for _, tc := range tests {
		got, err := RewriteLike(tc.like, "*", "?", bracket)
		if (err != nil) != tc.fails || got != tc.want {
			t.Errorf("RewriteLike(%q) = %q, %v; want %q, error %v", tc.like, got, err, tc.want, tc.fails)
		}
	}
}

func TestCutPage(t *testing.T) {
	tests := []struct {
		keys     []string
		pageSize int
		want     []string
		next     string
	}{
		{[]string{"a", "b", "c"}, 2, []string{"a", "b"}, "b"},
		{[]string{"a", "b"}, 2, []string{"a", "b"}, ""},
		{[]string{"a"}, 2, []string{"a"}, ""},
		{[]string{"a", "b", "c"}, 0, []string{"a", "b", "c"}, ""},
		{[]string{}, 5, []string{}, ""},
	}
	for _, tc := range tests {
		got, next := CutPage(slices.Clone(tc.keys), tc.pageSize)
		if !slices.Equal(got, tc.want) || next != tc.next {
			t.Errorf("CutPage(%q, %d) = %q, %q; want %q, %q", tc.keys, tc.pageSize, got, next, tc.want, tc.next)
		}
	}
}

// fakeRows yields vals as one-column rows.
type fakeRows struct {
	vals []string
	i    int
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *fakeRows) Err() error { return nil }
func (r *fakeRows) Scan(dest ...any) error {
	*dest[0].(*string) = r.vals[r.i-1]
	return nil
}

func TestCollectStrings(t *testing.T) {
	for _, vals := range [][]string{{"a", "b"}, {}} {
		got, err := CollectStrings(&fakeRows{vals: vals})
		if err != nil || got == nil || !slices.Equal(got, vals) {
			t.Errorf("CollectStrings(%q) = %#v, %v", vals, got, err)
		}
	}
}
