package memory

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outrigger/outrigger/internal/state"
	"github.com/outrigger/outrigger/internal/state/query"
)

// fakeClock is a settable time source for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newStore()
	s.now = clock.now
	if err := s.Init(t.Context(), state.Metadata{}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clock
}

func mustSet(t *testing.T, s *Store, key, val string, md map[string]string) {
	t.Helper()
	if err := s.Set(t.Context(), state.SetRequest{Key: key, Value: []byte(val), Metadata: md}); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func TestExpiryAndSweep(t *testing.T) {
	s, clock := newTestStore(t)
	mustSet(t, s, "a", `1`, map[string]string{state.MetaTTLInSeconds: "10"})
	mustSet(t, s, "b", `2`, nil)

	res, err := s.Get(t.Context(), state.GetRequest{Key: "a"})
	if err != nil || !res.Found {
		t.Fatalf("Get(a) before expiry = %+v, %v", res, err)
	}
	if got, want := res.Metadata[state.MetaTTLExpireTime], "2026-01-02T03:04:15Z"; got != want {
		t.Errorf("ttlExpireTime = %q, want %q", got, want)
	}

	clock.advance(10 * time.Second)
	if res, _ := s.Get(t.Context(), state.GetRequest{Key: "a"}); res.Found {
		t.Errorf("Get(a) at expiry: Found=true, want false")
	}
	if n := s.sweep(); n != 1 {
		t.Errorf("sweep removed %d items, want 1", n)
	}
	s.mu.RLock()
	_, aLeft := s.items["a"]
	_, bLeft := s.items["b"]
	s.mu.RUnlock()
	if aLeft || !bLeft {
		t.Errorf("after sweep: a present=%v (want false), b present=%v (want true)", aLeft, bLeft)
	}
}

func TestSweeperRunsAndStops(t *testing.T) {
	s := newStore()
	s.sweepInterval = 10 * time.Millisecond
	if err := s.Init(t.Context(), state.Metadata{}); err != nil {
		t.Fatalf("Init: %v", err)
	}
	mustSet(t, s, "gone", `1`, map[string]string{state.MetaTTLInSeconds: "1"})
	s.mu.Lock()
	s.items["gone"].expires = time.Now().Add(-time.Second) // already expired
	s.mu.Unlock()

	deadline := time.Now().Add(2 * time.Second)
	for {
		s.mu.RLock()
		n := len(s.items)
		s.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("background sweeper did not remove the expired item within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
}

func TestCloseBeforeInit(t *testing.T) {
	if err := New().Close(); err != nil {
		t.Errorf("Close before Init: %v", err)
	}
}

func TestInitTwice(t *testing.T) {
	s, _ := newTestStore(t)
	if err := s.Init(t.Context(), state.Metadata{}); err == nil {
		t.Error("second Init: got nil error, want one")
	}
}

func TestETags(t *testing.T) {
	s, _ := newTestStore(t)
	etag := func(key string) string {
		t.Helper()
		res, err := s.Get(t.Context(), state.GetRequest{Key: key})
		if err != nil || !res.Found {
			t.Fatalf("Get(%q) = %+v, %v", key, res, err)
		}
		if _, err := strconv.ParseUint(res.ETag, 10, 64); err != nil {
			t.Fatalf("ETag %q of %q is not a decimal version: %v", res.ETag, key, err)
		}
		return res.ETag
	}
	mustSet(t, s, "k", `1`, nil)
	first := etag("k")
	if err := s.Delete(t.Context(), state.DeleteRequest{Key: "k"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustSet(t, s, "k", `1`, nil)
	// A recreated key must not accept the ETag of its previous life.
	err := s.Set(t.Context(), state.SetRequest{Key: "k", Value: []byte(`2`), ETag: &first})
	if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagMismatch {
		t.Errorf("Set with ETag %q of a deleted incarnation: %v, want ETagMismatch", first, err)
	}
	for _, bad := range []string{"abc", "-1", "1.5", "0x10"} {
		err := s.Set(t.Context(), state.SetRequest{Key: "k", Value: []byte(`2`), ETag: &bad})
		if e, ok := state.AsETagError(err); !ok || e.Kind != state.ETagInvalid {
			t.Errorf("Set with ETag %q: %v, want ETagInvalid", bad, err)
		}
	}
}

func TestValuesAreCopied(t *testing.T) {
	s, _ := newTestStore(t)
	val := []byte(`"orig"`)
	if err := s.Set(t.Context(), state.SetRequest{Key: "k", Value: val}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	copy(val, `"XXXX"`)
	res, _ := s.Get(t.Context(), state.GetRequest{Key: "k"})
	copy(res.Data, `"YYYY"`)
	res, _ = s.Get(t.Context(), state.GetRequest{Key: "k"})
	if string(res.Data) != `"orig"` {
		t.Errorf("Get(k) = %q after caller mutated its buffers, want %q", res.Data, `"orig"`)
	}
}

func TestUnsupportedOperation(t *testing.T) {
	s, _ := newTestStore(t)
	err := s.Multi(t.Context(), state.TransactionRequest{Operations: []state.Operation{
		{Type: state.OpUpsert, Set: state.SetRequest{Key: "a", Value: []byte(`1`)}},
		{Type: "merge", Set: state.SetRequest{Key: "b"}},
	}})
	var ire *state.InvalidRequestError
	if !errors.As(err, &ire) {
		t.Fatalf("Multi with operation type merge: %v, want InvalidRequestError", err)
	}
	if res, _ := s.Get(t.Context(), state.GetRequest{Key: "a"}); res.Found {
		t.Error("key a written by a rejected transaction")
	}
}

func TestDeleteWithPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		want   int64
		left   []string
	}{
		{"app||actor||1", 2, []string{"app||actor||10||x", "app||other", "other||actor||1||x"}},
		{"app||actor||1||", 2, []string{"app||actor||10||x", "app||other", "other||actor||1||x"}},
		{"app", 4, []string{"other||actor||1||x"}},
	}
	for _, tc := range tests {
		t.Run(tc.prefix, func(t *testing.T) {
			s, _ := newTestStore(t)
			for _, k := range []string{"app||actor||1||a", "app||actor||1||b", "app||actor||10||x", "app||other", "other||actor||1||x"} {
				mustSet(t, s, k, `1`, nil)
			}
			n, err := s.DeleteWithPrefix(t.Context(), tc.prefix)
			if err != nil || n != tc.want {
				t.Errorf("DeleteWithPrefix(%q) = %d, %v, want %d", tc.prefix, n, err, tc.want)
			}
			left := s.sortedLiveKeys(func(string) bool { return true })
			if !slices.Equal(left, tc.left) {
				t.Errorf("keys left = %q, want %q", left, tc.left)
			}
		})
	}
	s, _ := newTestStore(t)
	if _, err := s.DeleteWithPrefix(t.Context(), ""); err == nil {
		t.Error("DeleteWithPrefix(\"\"): got nil error, want one")
	}
}

func TestKeysLike(t *testing.T) {
	s, _ := newTestStore(t)
	for _, k := range []string{"app||a1", "app||a2", "app||b1", "app||a_x", "other||a1"} {
		mustSet(t, s, k, `1`, nil)
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"app||a%", []string{"app||a1", "app||a2", "app||a_x"}},
		{"app||a_", []string{"app||a1", "app||a2"}},
		{`app||a\_%`, []string{"app||a_x"}},
		{"%||a1", []string{"app||a1", "other||a1"}},
		{"nothing%", nil},
	}
	for _, tc := range tests {
		got, next, err := s.KeysLike(t.Context(), tc.pattern, "", 0)
		if err != nil || next != "" || !slices.Equal(got, tc.want) {
			t.Errorf("KeysLike(%q) = %q, next %q, %v; want %q", tc.pattern, got, next, err, tc.want)
		}
	}
	// Paging: pages of 2 over "app||%" cover the four app keys once, in order.
	var all []string
	token := ""
	for range 5 {
		page, next, err := s.KeysLike(t.Context(), "app||%", token, 2)
		if err != nil {
			t.Fatalf("KeysLike page after %q: %v", token, err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		token = next
	}
	if want := []string{"app||a1", "app||a2", "app||a_x", "app||b1"}; !slices.Equal(all, want) {
		t.Errorf("paged KeysLike = %q, want %q", all, want)
	}
	if _, _, err := s.KeysLike(t.Context(), `bad\`, "", 0); err == nil {
		t.Error(`KeysLike("bad\"): got nil error, want one`)
	}
}

func TestQueryBadToken(t *testing.T) {
	s, _ := newTestStore(t)
	mustSet(t, s, "k", `{"a":1}`, nil)
	_, err := s.Query(context.Background(), state.QueryRequest{Query: &query.Query{Token: "nope"}})
	var ire *state.InvalidRequestError
	if !errors.As(err, &ire) {
		t.Errorf("Query with token %q: %v, want InvalidRequestError", "nope", err)
	}
}

// The store must satisfy every optional capability it advertises.
var (
	_ state.Transactional = (*Store)(nil)
	_ state.BulkGetter    = (*Store)(nil)
	_ state.BulkSetter    = (*Store)(nil)
	_ state.BulkDeleter   = (*Store)(nil)
	_ state.Querier       = (*Store)(nil)
)
