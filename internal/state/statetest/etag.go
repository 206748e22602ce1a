package statetest

import (
	"testing"

	"github.com/outrigger/outrigger/internal/state"
)

func (h *harness) testETag(t *testing.T) {
	h.require(t, state.FeatureETag)
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"get-returns-etag", h.etagGetReturns},
		{"set-with-current-etag", h.etagSetCurrent},
		{"set-with-stale-etag", h.etagSetStale},
		{"set-with-malformed-etag", h.etagSetMalformed},
		{"set-etag-on-missing-key", h.etagSetMissing},
		{"delete-with-stale-etag", h.etagDeleteStale},
		{"delete-with-current-etag", h.etagDeleteCurrent},
		{"delete-etag-on-missing-key", h.etagDeleteMissing},
		{"first-write-existing-key", h.firstWriteExisting},
		{"first-write-missing-key", h.firstWriteMissing},
		{"first-write-with-current-etag", h.firstWriteCurrentETag},
		{"first-write-with-stale-etag", h.firstWriteStaleETag},
		{"last-write-overwrites", h.lastWriteOverwrites},
		{"empty-etag-is-unconditional", h.emptyETagUnconditional},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.run)
	}
}

// staleETag writes key twice and returns the first (now stale) and the
// current ETag.
func (h *harness) staleETag(t *testing.T, key string) (stale, current string) {
	t.Helper()
	h.mustSet(t, key, []byte(`"v1"`))
	stale = h.mustETag(t, key)
	h.mustSet(t, key, []byte(`"v2"`))
	current = h.mustETag(t, key)
	if stale == current {
		t.Fatalf("key %q: ETag %q did not change after an overwrite", key, stale)
	}
	return stale, current
}

func (h *harness) etagGetReturns(t *testing.T) {
	k := h.key(t, "etag")
	h.mustSet(t, k, []byte(`"v"`))
	h.mustETag(t, k)
}

func (h *harness) etagSetCurrent(t *testing.T) {
	k := h.key(t, "etag")
	h.mustSet(t, k, []byte(`"v1"`))
	e1 := h.mustETag(t, k)
	if err := h.set(t, k, []byte(`"v2"`), withETag(e1)); err != nil {
		t.Fatalf("Set(%q) with current etag %q: %v", k, e1, err)
	}
	h.expectValue(t, k, []byte(`"v2"`), false)
	if e2 := h.mustETag(t, k); e2 == e1 {
		t.Errorf("key %q: ETag still %q after a conditional write, want a new one", k, e1)
	}
}

func (h *harness) etagSetStale(t *testing.T) {
	k := h.key(t, "etag")
	stale, _ := h.staleETag(t, k)
	err := h.set(t, k, []byte(`"v3"`), withETag(stale))
	expectETagErr(t, "Set("+k+") with stale etag "+stale, err, state.ETagMismatch)
	h.expectValue(t, k, []byte(`"v2"`), false)
}

func (h *harness) etagSetMalformed(t *testing.T) {
	k := h.key(t, "etag")
	h.mustSet(t, k, []byte(`"v1"`))
	// Stores with free-form etags cannot tell malformed from stale.
	err := h.set(t, k, []byte(`"v2"`), withETag("not-an-etag-!!"))
	expectETagErr(t, "Set("+k+") with malformed etag", err, state.ETagMismatch, state.ETagInvalid)
	h.expectValue(t, k, []byte(`"v1"`), false)
}

func (h *harness) etagSetMissing(t *testing.T) {
	src := h.key(t, "etag-src")
	h.mustSet(t, src, []byte(`"v"`))
	e := h.mustETag(t, src) // a well-formed etag, but of another key
	k := h.key(t, "etag-missing")
	err := h.set(t, k, []byte(`"v"`), withETag(e))
	expectETagErr(t, "Set("+k+") of a missing key with etag "+e, err, state.ETagMismatch)
	h.expectMissing(t, k)
}

func (h *harness) etagDeleteStale(t *testing.T) {
	k := h.key(t, "etag")
	stale, _ := h.staleETag(t, k)
	err := h.del(t, k, &stale)
	expectETagErr(t, "Delete("+k+") with stale etag "+stale, err, state.ETagMismatch)
	h.expectValue(t, k, []byte(`"v2"`), false)
}

func (h *harness) etagDeleteCurrent(t *testing.T) {
	k := h.key(t, "etag")
	_, cur := h.staleETag(t, k)
	if err := h.del(t, k, &cur); err != nil {
		t.Fatalf("Delete(%q) with current etag %q: %v", k, cur, err)
	}
	h.expectMissing(t, k)
}

func (h *harness) etagDeleteMissing(t *testing.T) {
	src := h.key(t, "etag-src")
	h.mustSet(t, src, []byte(`"v"`))
	e := h.mustETag(t, src)
	k := h.key(t, "etag-missing")
	err := h.del(t, k, &e)
	expectETagErr(t, "Delete("+k+") of a missing key with etag "+e, err, state.ETagMismatch)
}

func (h *harness) firstWriteExisting(t *testing.T) {
	k := h.key(t, "fw")
	h.mustSet(t, k, []byte(`"v1"`))
	err := h.set(t, k, []byte(`"v2"`), withConcurrency(state.FirstWrite))
	expectETagErr(t, "first-write Set("+k+") without etag on an existing key", err, state.ETagMismatch)
	h.expectValue(t, k, []byte(`"v1"`), false)
}

func (h *harness) firstWriteMissing(t *testing.T) {
	k := h.key(t, "fw")
	if err := h.set(t, k, []byte(`"v1"`), withConcurrency(state.FirstWrite)); err != nil {
		t.Fatalf("first-write Set(%q) without etag on a missing key: %v", k, err)
	}
	h.expectValue(t, k, []byte(`"v1"`), false)
}

func (h *harness) firstWriteCurrentETag(t *testing.T) {
	k := h.key(t, "fw")
	_, cur := h.staleETag(t, k)
	if err := h.set(t, k, []byte(`"v3"`), withConcurrency(state.FirstWrite), withETag(cur)); err != nil {
		t.Fatalf("first-write Set(%q) with current etag %q: %v", k, cur, err)
	}
	h.expectValue(t, k, []byte(`"v3"`), false)
}

func (h *harness) firstWriteStaleETag(t *testing.T) {
	k := h.key(t, "fw")
	stale, _ := h.staleETag(t, k)
	err := h.set(t, k, []byte(`"v3"`), withConcurrency(state.FirstWrite), withETag(stale))
	expectETagErr(t, "first-write Set("+k+") with stale etag "+stale, err, state.ETagMismatch)
	h.expectValue(t, k, []byte(`"v2"`), false)
}

func (h *harness) lastWriteOverwrites(t *testing.T) {
	k := h.key(t, "lw")
	h.mustSet(t, k, []byte(`"v1"`))
	if err := h.set(t, k, []byte(`"v2"`), withConcurrency(state.LastWrite)); err != nil {
		t.Fatalf("last-write Set(%q) without etag: %v", k, err)
	}
	h.expectValue(t, k, []byte(`"v2"`), false)
}

func (h *harness) emptyETagUnconditional(t *testing.T) {
	k := h.key(t, "etag-empty")
	h.mustSet(t, k, []byte(`"v1"`))
	if err := h.set(t, k, []byte(`"v2"`), withETag("")); err != nil {
		t.Fatalf("Set(%q) with empty etag: %v, want an unconditional write", k, err)
	}
	h.expectValue(t, k, []byte(`"v2"`), false)
	empty := ""
	if err := h.del(t, k, &empty); err != nil {
		t.Fatalf("Delete(%q) with empty etag: %v, want an unconditional delete", k, err)
	}
	h.expectMissing(t, k)
}
